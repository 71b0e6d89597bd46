"""Raw-socket RFC 9112 conformance and request-smuggling probes against
`sockkit serve http` (the kinds of cases public HTTP/1.1 compliance and
smuggling test suites send: Compliance, Smuggling, MalformedInput).

Each case sends bytes on a fresh connection and asserts the exact status and
what happens to the connection afterwards:
  CLOSE  the response carries `Connection: close` (for errors) and EOF follows;
  KEEP   the connection stays usable: a second request on it gets 200 with the
         index page (so a body the server failed to consume, i.e. a smuggled
         request, shows up as a wrong second answer);
  ANY    the spec leaves it open; if the server keeps the connection, it must
         still be in sync (the second request gets 200).
"""
import pytest

from conftest import TIMEOUT, Server
from http_util import ALLOW_EXPECTED, INDEX_BODY, ConnectionClosed, Conn, backend_args

CLOSE, KEEP, ANY = "close", "keep", "any"

OK_REQ = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def R(s):
    """Request text with \\n written as CRLF (use raw bytes for bare LF)."""
    return s.replace("\n", "\r\n").encode("latin-1")


# A complete request hidden in a body: if the server does not consume the body
# it answers this one (404) instead of the follow-up request.
SMUGGLED = b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"


def many_headers(n, size=10):
    return "".join("X-H%d: %s\n" % (i, "v" * size) for i in range(n))


# (id, raw bytes, expected status or tuple of allowed statuses, connection, method)
CASES = [
    # --- request line and version -------------------------------------------------
    ("ok_get_http11", R("GET / HTTP/1.1\nHost: t\n\n"), 200, KEEP, "GET"),
    ("ok_get_http10_closes", R("GET / HTTP/1.0\n\n"), 200, CLOSE, "GET"),
    ("ok_get_http10_keepalive", R("GET / HTTP/1.0\nConnection: keep-alive\n\n"), 200, KEEP, "GET"),
    ("ok_head", R("HEAD / HTTP/1.1\nHost: t\n\n"), 200, KEEP, "HEAD"),
    ("ok_connection_close", R("GET / HTTP/1.1\nHost: t\nConnection: close\n\n"), 200, CLOSE, "GET"),
    ("ok_connection_close_uppercase", R("GET / HTTP/1.1\nHost: t\nConnection: CLOSE\n\n"), 200, CLOSE, "GET"),
    ("ok_connection_close_in_list", R("GET / HTTP/1.1\nHost: t\nConnection: te, close\n\n"), 200, CLOSE, "GET"),
    ("ok_http10_keepalive_mixed_case", R("GET / HTTP/1.0\nConnection: Keep-Alive\n\n"), 200, KEEP, "GET"),
    ("ok_header_name_underscore", R("GET / HTTP/1.1\nHost: t\nX_A: b\n\n"), 200, KEEP, "GET"),
    ("ok_leading_crlf", R("\n\nGET / HTTP/1.1\nHost: t\n\n"), 200, KEEP, "GET"),
    ("ok_http12_minor_is_11", R("GET / HTTP/1.2\nHost: t\n\n"), 200, KEEP, "GET"),
    ("ok_long_query_8k", R("GET /?" + "a" * 8000 + " HTTP/1.1\nHost: t\n\n"), 200, KEEP, "GET"),
    ("version_http20", R("GET / HTTP/2.0\nHost: t\n\n"), 505, CLOSE, "GET"),
    ("version_http30", R("GET / HTTP/3.0\nHost: t\n\n"), 505, CLOSE, "GET"),
    ("version_http09_number", R("GET / HTTP/0.9\nHost: t\n\n"), 505, CLOSE, "GET"),
    ("version_lowercase", R("GET / http/1.1\nHost: t\n\n"), 400, CLOSE, "GET"),
    ("version_missing_http09", R("GET /\n\n"), 400, CLOSE, "GET"),
    ("version_two_digit_minor", R("GET / HTTP/1.10\nHost: t\n\n"), 400, CLOSE, "GET"),
    ("version_no_minor", R("GET / HTTP/1\nHost: t\n\n"), 400, CLOSE, "GET"),
    ("version_garbage", R("GET / HTTP/x.y\nHost: t\n\n"), 400, CLOSE, "GET"),
    ("request_line_trailing_space", R("GET / HTTP/1.1 \nHost: t\n\n"), 400, CLOSE, "GET"),
    ("request_line_double_space", R("GET  / HTTP/1.1\nHost: t\n\n"), 400, CLOSE, "GET"),
    ("request_line_tab_separator", R("GET\t/ HTTP/1.1\nHost: t\n\n"), 400, CLOSE, "GET"),
    ("request_line_leading_space", R(" GET / HTTP/1.1\nHost: t\n\n"), 400, CLOSE, "GET"),
    ("request_line_leading_tab", R("\tGET / HTTP/1.1\nHost: t\n\n"), 400, CLOSE, "GET"),
    ("request_line_bare_lf", b"GET / HTTP/1.1\nHost: t\r\n\r\n", 400, CLOSE, "GET"),
    ("leading_bare_lf_line", b"\nGET / HTTP/1.1\r\nHost: t\r\n\r\n", 400, CLOSE, "GET"),
    ("request_line_bare_cr", b"GET / HTTP/1.1\rHost: t\r\n\r\n", 400, CLOSE, "GET"),
    # --- methods ------------------------------------------------------------------
    ("method_lowercase_get", R("get / HTTP/1.1\nHost: t\n\n"), 501, ANY, "GET"),
    ("method_unknown_token", R("FOO / HTTP/1.1\nHost: t\n\n"), 501, ANY, "GET"),
    ("method_post_405", R("POST / HTTP/1.1\nHost: t\nContent-Length: 0\n\n"), 405, ANY, "GET"),
    ("method_post_body_405", R("POST / HTTP/1.1\nHost: t\nContent-Length: 5\n\nhello"), 405, ANY, "GET"),
    ("method_put_405", R("PUT / HTTP/1.1\nHost: t\nContent-Length: 0\n\n"), 405, ANY, "GET"),
    ("method_delete_405", R("DELETE / HTTP/1.1\nHost: t\n\n"), 405, ANY, "GET"),
    ("method_patch_405", R("PATCH / HTTP/1.1\nHost: t\nContent-Length: 0\n\n"), 405, ANY, "GET"),
    ("method_trace_405", R("TRACE / HTTP/1.1\nHost: t\n\n"), 405, ANY, "GET"),
    ("method_connect_405", R("CONNECT example.com:443 HTTP/1.1\nHost: example.com:443\n\n"), 405, ANY, "GET"),
    ("method_bad_char_paren", R("GE(T / HTTP/1.1\nHost: t\n\n"), 400, CLOSE, "GET"),
    ("method_nul", b"G\x00T / HTTP/1.1\r\nHost: t\r\n\r\n", 400, CLOSE, "GET"),
    ("method_non_ascii", b"G\xc9T / HTTP/1.1\r\nHost: t\r\n\r\n", 400, CLOSE, "GET"),
    # --- request target -----------------------------------------------------------
    ("target_raw_nul", b"GET /\x00 HTTP/1.1\r\nHost: t\r\n\r\n", 400, CLOSE, "GET"),
    ("target_raw_ctl", b"GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n", 400, CLOSE, "GET"),
    ("target_raw_del", b"GET /\x7f HTTP/1.1\r\nHost: t\r\n\r\n", 400, CLOSE, "GET"),
    ("target_raw_non_ascii", b"GET /\xff HTTP/1.1\r\nHost: t\r\n\r\n", 400, CLOSE, "GET"),
    ("target_pct00", R("GET /index.html%00.txt HTTP/1.1\nHost: t\n\n"), 400, ANY, "GET"),
    ("target_bad_escape", R("GET /%zz HTTP/1.1\nHost: t\n\n"), 400, ANY, "GET"),
    ("target_fragment", R("GET /#x HTTP/1.1\nHost: t\n\n"), 400, ANY, "GET"),
    ("target_relative_no_slash", R("GET index.html HTTP/1.1\nHost: t\n\n"), 400, ANY, "GET"),
    ("target_absolute_form", R("GET http://t/ HTTP/1.1\nHost: t\n\n"), 200, KEEP, "GET"),
    ("target_absolute_form_other_host", R("GET http://example.com/index.html HTTP/1.1\nHost: other\n\n"), 200, KEEP, "GET"),
    ("target_absolute_form_without_host_11", R("GET http://t/ HTTP/1.1\n\n"), 400, CLOSE, "GET"),
    ("target_asterisk_options", R("OPTIONS * HTTP/1.1\nHost: t\n\n"), (200, 204), KEEP, "GET"),
    ("target_asterisk_get", R("GET * HTTP/1.1\nHost: t\n\n"), 400, ANY, "GET"),
    ("target_authority_form_get", R("GET t:80 HTTP/1.1\nHost: t\n\n"), 400, ANY, "GET"),
    ("target_uri_too_long_414", R("GET /" + "a" * 17000 + " HTTP/1.1\nHost: t\n\n"), 414, CLOSE, "GET"),
    # --- Host ---------------------------------------------------------------------
    ("host_missing_http11", R("GET / HTTP/1.1\n\n"), 400, CLOSE, "GET"),
    ("host_missing_http10_ok", R("GET / HTTP/1.0\n\n"), 200, CLOSE, "GET"),
    ("host_duplicate", R("GET / HTTP/1.1\nHost: a\nHost: b\n\n"), 400, CLOSE, "GET"),
    ("host_duplicate_same_value", R("GET / HTTP/1.1\nHost: t\nHost: t\n\n"), 400, CLOSE, "GET"),
    # RFC 9112 §3.2: empty Host only for a target without an authority.
    ("host_empty_origin_form_400", R("GET / HTTP/1.1\nHost:\n\n"), 400, CLOSE, "GET"),
    ("host_empty_absolute_form_ok", R("GET http://t/ HTTP/1.1\nHost:\n\n"), 200, KEEP, "GET"),
    # RFC 9112 §3: request lines of 8000 octets are served: the lookup says 404.
    ("target_path_7900_404", R("GET /" + "a" * 7899 + " HTTP/1.1\nHost: t\n\n"), 404, KEEP, "GET"),
    ("host_with_space", R("GET / HTTP/1.1\nHost: a b\n\n"), 400, ANY, "GET"),
    ("host_case_insensitive_name", R("GET / HTTP/1.1\nhOsT: t\n\n"), 200, KEEP, "GET"),
    # --- header syntax ------------------------------------------------------------
    ("header_no_space_after_colon_ok", R("GET / HTTP/1.1\nHost:t\n\n"), 200, KEEP, "GET"),
    ("header_value_ows_trimmed_ok", R("GET / HTTP/1.1\nHost: \t t \t\n\n"), 200, KEEP, "GET"),
    ("header_value_htab_inside_ok", R("GET / HTTP/1.1\nHost: t\nX-A: a\tb\n\n"), 200, KEEP, "GET"),
    ("header_value_obs_text_ok", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: caf\xe9\r\n\r\n", 200, KEEP, "GET"),
    ("header_space_before_colon", R("GET / HTTP/1.1\nHost : t\n\n"), 400, CLOSE, "GET"),
    ("header_tab_before_colon", R("GET / HTTP/1.1\nHost: t\nX-A\t: b\n\n"), 400, CLOSE, "GET"),
    ("header_obs_fold_space", R("GET / HTTP/1.1\nHost: t\nX-A: a\n b\n\n"), 400, CLOSE, "GET"),
    ("header_obs_fold_tab", R("GET / HTTP/1.1\nHost: t\nX-A: a\n\tb\n\n"), 400, CLOSE, "GET"),
    ("header_first_line_folded", R("GET / HTTP/1.1\n Host: t\n\n"), 400, CLOSE, "GET"),
    ("header_empty_name", R("GET / HTTP/1.1\nHost: t\n: x\n\n"), 400, CLOSE, "GET"),
    ("header_no_colon", R("GET / HTTP/1.1\nHost: t\nFoo\n\n"), 400, CLOSE, "GET"),
    ("header_name_with_space", R("GET / HTTP/1.1\nHost: t\nFoo Bar: x\n\n"), 400, CLOSE, "GET"),
    ("header_name_nul", b"GET / HTTP/1.1\r\nHost: t\r\nX-\x00A: b\r\n\r\n", 400, CLOSE, "GET"),
    ("header_name_ctl", b"GET / HTTP/1.1\r\nHost: t\r\nX-\x01A: b\r\n\r\n", 400, CLOSE, "GET"),
    ("header_name_at_sign", R("GET / HTTP/1.1\nHost: t\nX@A: b\n\n"), 400, CLOSE, "GET"),
    ("header_name_non_ascii", b"GET / HTTP/1.1\r\nHost: t\r\nX-\xe9: b\r\n\r\n", 400, CLOSE, "GET"),
    ("header_value_nul", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n", 400, CLOSE, "GET"),
    ("header_value_ctl_0x01", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n", 400, CLOSE, "GET"),
    ("header_value_del", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x7fb\r\n\r\n", 400, CLOSE, "GET"),
    ("header_value_bare_cr", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n", 400, CLOSE, "GET"),
    ("header_value_bare_lf", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\nb\r\n\r\n", 400, CLOSE, "GET"),
    ("header_lines_bare_lf", b"GET / HTTP/1.1\r\nHost: t\nX-A: b\n\n", 400, CLOSE, "GET"),
    ("header_end_bare_lf", b"GET / HTTP/1.1\r\nHost: t\r\n\n", 400, CLOSE, "GET"),
    ("header_end_cr_cr", b"GET / HTTP/1.1\r\nHost: t\r\n\r\r\n", 400, CLOSE, "GET"),
    # --- limits -------------------------------------------------------------------
    ("headers_exactly_100_ok", R("GET / HTTP/1.1\nHost: t\n" + many_headers(99) + "\n"), 200, KEEP, "GET"),
    ("head_just_under_16k_ok", R("GET / HTTP/1.1\nHost: t\n" + many_headers(15, 1000) + "\n"), 200, KEEP, "GET"),
    ("headers_101_431", R("GET / HTTP/1.1\nHost: t\n" + many_headers(100) + "\n"), 431, CLOSE, "GET"),
    ("header_block_over_16k_431", R("GET / HTTP/1.1\nHost: t\n" + many_headers(20, 1000) + "\n"), 431, CLOSE, "GET"),
    ("single_header_20k_431", R("GET / HTTP/1.1\nHost: t\nX-Big: " + "b" * 20000 + "\n\n"), 431, CLOSE, "GET"),
    # --- Content-Length -----------------------------------------------------------
    ("cl_zero_ok", R("GET / HTTP/1.1\nHost: t\nContent-Length: 0\n\n"), 200, KEEP, "GET"),
    ("cl_body_consumed", R("GET / HTTP/1.1\nHost: t\nContent-Length: 5\n\nhello"), 200, KEEP, "GET"),
    ("cl_body_is_request_not_smuggled",
     R("GET / HTTP/1.1\nHost: t\nContent-Length: %d\n\n" % len(SMUGGLED)) + SMUGGLED, 200, KEEP, "GET"),
    ("cl_leading_zeros_ok", R("GET / HTTP/1.1\nHost: t\nContent-Length: 005\n\nhello"), 200, KEEP, "GET"),
    ("cl_duplicate_same_value", R("GET / HTTP/1.1\nHost: t\nContent-Length: 5\nContent-Length: 5\n\nhello"), (200, 400), ANY, "GET"),
    ("cl_conflicting_headers", R("GET / HTTP/1.1\nHost: t\nContent-Length: 5\nContent-Length: 6\n\nhello!"), 400, CLOSE, "GET"),
    ("cl_conflicting_list", R("GET / HTTP/1.1\nHost: t\nContent-Length: 5, 6\n\nhello!"), 400, CLOSE, "GET"),
    ("cl_negative", R("GET / HTTP/1.1\nHost: t\nContent-Length: -1\n\n"), 400, CLOSE, "GET"),
    ("cl_plus_sign", R("GET / HTTP/1.1\nHost: t\nContent-Length: +5\n\nhello"), 400, CLOSE, "GET"),
    ("cl_hex", R("GET / HTTP/1.1\nHost: t\nContent-Length: 0x5\n\nhello"), 400, CLOSE, "GET"),
    ("cl_inner_space", R("GET / HTTP/1.1\nHost: t\nContent-Length: 1 2\n\n"), 400, CLOSE, "GET"),
    ("cl_empty", R("GET / HTTP/1.1\nHost: t\nContent-Length:\n\n"), 400, CLOSE, "GET"),
    ("cl_overflow_u64", R("GET / HTTP/1.1\nHost: t\nContent-Length: 99999999999999999999999\n\n"), (400, 413), CLOSE, "GET"),
    ("cl_over_max_body_413", R("GET / HTTP/1.1\nHost: t\nContent-Length: 2000000\n\n"), 413, CLOSE, "GET"),
    # --- Transfer-Encoding --------------------------------------------------------
    ("te_chunked_ok", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n"), 200, KEEP, "GET"),
    ("te_chunked_case_insensitive", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: Chunked\n\n5\nhello\n0\n\n"), 200, KEEP, "GET"),
    ("te_leading_ows_ok", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding:   chunked\n\n5\nhello\n0\n\n"), 200, KEEP, "GET"),
    ("te_chunked_body_is_request_not_smuggled",
     R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n%x\n" % len(SMUGGLED)) + SMUGGLED + b"\r\n0\r\n\r\n", 200, KEEP, "GET"),
    ("te_space_before_colon", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding : chunked\n\n0\n\n"), 400, CLOSE, "GET"),
    ("te_chunked_then_identity", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked, identity\n\n0\n\n"), (400, 501), CLOSE, "GET"),
    ("te_xchunked", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: xchunked\n\n0\n\n"), 501, CLOSE, "GET"),
    ("te_chunked_suffix", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunkedx\n\n0\n\n"), 501, CLOSE, "GET"),
    ("te_gzip_chunked_unknown", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: gzip, chunked\n\n0\n\n"), 501, CLOSE, "GET"),
    ("te_only_gzip", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: gzip\n\n"), (400, 501), CLOSE, "GET"),
    ("te_twice_header", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\nTransfer-Encoding: chunked\n\n0\n\n"), 400, CLOSE, "GET"),
    ("te_chunked_chunked_list", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked, chunked\n\n0\n\n"), 400, CLOSE, "GET"),
    ("te_empty", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding:\n\n"), 400, CLOSE, "GET"),
    ("te_vertical_tab", b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", 400, CLOSE, "GET"),
    ("te_and_cl", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\nContent-Length: 5\n\n0\n\n"), 400, CLOSE, "GET"),
    ("cl_and_te", R("GET / HTTP/1.1\nHost: t\nContent-Length: 5\nTransfer-Encoding: chunked\n\n0\n\n"), 400, CLOSE, "GET"),
    ("te_in_http10", R("GET / HTTP/1.0\nTransfer-Encoding: chunked\n\n0\n\n"), 400, CLOSE, "GET"),
    # --- chunked body -------------------------------------------------------------
    ("chunk_uppercase_hex_ok", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\nA\n0123456789\n0\n\n"), 200, KEEP, "GET"),
    ("chunk_ext_ok", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n5;foo=bar\nhello\n0\n\n"), 200, KEEP, "GET"),
    ("chunk_ext_quoted_ok", R('GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n5;foo="b r"\nhello\n0\n\n'), 200, KEEP, "GET"),
    ("chunk_trailer_ok", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n5\nhello\n0\nX-T: v\n\n"), 200, KEEP, "GET"),
    ("chunk_trailer_bad_name", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n0\nBad Name: v\n\n"), 400, CLOSE, "GET"),
    ("chunk_trailer_obs_fold", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n0\nX-T: a\n b\n\n"), 400, CLOSE, "GET"),
    ("chunk_size_negative", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n-5\nhello\n0\n\n"), 400, CLOSE, "GET"),
    ("chunk_size_0x_prefix", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n0x5\nhello\n0\n\n"), 400, CLOSE, "GET"),
    ("chunk_size_overflow", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\nfffffffffffffffff1\nhello\n0\n\n"), (400, 413), CLOSE, "GET"),
    ("chunk_size_not_hex", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\ng\nhello\n0\n\n"), 400, CLOSE, "GET"),
    ("chunk_size_empty", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n\nhello\n0\n\n"), 400, CLOSE, "GET"),
    ("chunk_size_leading_space", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n 5\nhello\n0\n\n"), 400, CLOSE, "GET"),
    ("chunk_ext_nul", b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x00\r\nhello\r\n0\r\n\r\n", 400, CLOSE, "GET"),
    ("chunk_ext_ctl_value", b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\x01\r\nhello\r\n0\r\n\r\n", 400, CLOSE, "GET"),
    ("chunk_ext_empty_name", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n5;=x\nhello\n0\n\n"), 400, CLOSE, "GET"),
    ("chunk_ext_bare_lf", b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nhello\r\n0\r\n\r\n", 400, CLOSE, "GET"),
    ("chunk_data_too_long", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n5\nhelloXX\n0\n\n"), 400, CLOSE, "GET"),
    ("chunk_lines_bare_lf", b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", 400, CLOSE, "GET"),
    ("chunk_bare_cr_after_data", b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r0\r\n\r\n", 400, CLOSE, "GET"),
]

assert len(CASES) >= 60
assert len({c[0] for c in CASES}) == len(CASES), "duplicate case ids"


@pytest.fixture(scope="module")
def http_port(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    (root / "index.html").write_bytes(INDEX_BODY)
    srv = Server(["serve", "http", str(root), "--listen", "127.0.0.1:0"] + backend_args())
    try:
        yield srv.port()
    finally:
        srv.stop()


def check_second_request_ok(c, case_id):
    c.send(OK_REQ)
    r2 = c.read_response("GET")
    assert r2.status == 200 and r2.body == INDEX_BODY, \
        "%s: the follow-up request on the same connection got %r" % (case_id, r2)


@pytest.mark.parametrize("case_id,raw,status,conn,method", CASES, ids=[c[0] for c in CASES])
def test_raw_request(http_port, case_id, raw, status, conn, method):
    allowed = status if isinstance(status, tuple) else (status,)
    with Conn(http_port) as c:
        c.send(raw)
        try:
            r = c.read_response(method)
        except ConnectionClosed:
            pytest.fail("connection closed without a response (expected %s)" % (allowed,))
        assert r.status in allowed, "expected %s, got %r" % (allowed, r)
        assert r.get("Date"), "no Date header (RFC 9110 §6.6.1): %r" % r
        if r.status >= 400:
            assert r.get("Content-Length") is not None or r.get("Transfer-Encoding"), r
        if r.status == 200 and method == "GET" and not raw.startswith(b"OPTIONS"):
            assert r.body == INDEX_BODY
        if r.status == 405:
            allow = {m.strip() for m in (r.get("Allow") or "").split(",")}
            assert allow == ALLOW_EXPECTED, r
        if raw.startswith(b"OPTIONS"):
            allow = {m.strip() for m in (r.get("Allow") or "").split(",")}
            assert allow == ALLOW_EXPECTED, r
        if conn == CLOSE:
            if r.status >= 400:
                assert r.has_token("Connection", "close"), \
                    "an error response that closes must say Connection: close: %r" % r
            assert c.closed_within(TIMEOUT), "server kept the connection open"
        elif conn == KEEP:
            assert not r.has_token("Connection", "close"), r
            check_second_request_ok(c, case_id)
        else:
            if r.has_token("Connection", "close"):
                assert c.closed_within(TIMEOUT), "said Connection: close but kept it open"
            else:
                check_second_request_ok(c, case_id)


def test_split_across_many_sends(http_port):
    """A valid request sent one byte at a time is still one request."""
    import time
    with Conn(http_port) as c:
        for b in OK_REQ:
            c.send(bytes([b]))
            time.sleep(0.002)
        r = c.read_response()
        assert r.status == 200 and r.body == INDEX_BODY
        check_second_request_ok(c, "bytewise")


def test_chunked_body_split_across_sends(http_port):
    """A chunked body split at awkward places (inside the size line, the
    CRLF and the data) is decoded and the next request follows in sync."""
    import time
    parts = [b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
             b"1", b"0\r", b"\n0123456", b"789abcdef\r", b"\n0\r\n", b"\r", b"\n"]
    with Conn(http_port) as c:
        for p in parts:
            c.send(p)
            time.sleep(0.02)
        r = c.read_response()
        assert r.status == 200 and r.body == INDEX_BODY
        check_second_request_ok(c, "chunked-split")


@pytest.fixture(scope="module")
def small_limits_port(tmp_path_factory):
    root = tmp_path_factory.mktemp("root_small")
    (root / "index.html").write_bytes(INDEX_BODY)
    srv = Server(["serve", "http", str(root), "--listen", "127.0.0.1:0", "--max-header-bytes", "1024",
                  "--max-headers", "5", "--max-body", "10"] + backend_args())
    try:
        yield srv.port()
    finally:
        srv.stop()


LIMIT_CASES = [
    ("five_headers_ok", R("GET / HTTP/1.1\nHost: t\n" + many_headers(4) + "\n"), 200, KEEP),
    ("six_headers_431", R("GET / HTTP/1.1\nHost: t\n" + many_headers(5) + "\n"), 431, CLOSE),
    ("head_900_bytes_ok", R("GET / HTTP/1.1\nHost: t\nX-A: " + "a" * 850 + "\n\n"), 200, KEEP),
    ("head_1100_bytes_431", R("GET / HTTP/1.1\nHost: t\nX-A: " + "a" * 1100 + "\n\n"), 431, CLOSE),
    ("request_line_1100_414", R("GET /" + "a" * 1100 + " HTTP/1.1\nHost: t\n\n"), 414, CLOSE),
    ("body_10_ok", R("GET / HTTP/1.1\nHost: t\nContent-Length: 10\n\n0123456789"), 200, KEEP),
    ("body_11_413", R("GET / HTTP/1.1\nHost: t\nContent-Length: 11\n\n0123456789a"), 413, CLOSE),
    ("chunked_body_10_ok", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n5\n01234\n5\n56789\n0\n\n"),
     200, KEEP),
    ("chunked_body_over_413", R("GET / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n8\n01234567\n8\n89abcdef\n0\n\n"),
     413, CLOSE),
]


@pytest.mark.parametrize("case_id,raw,status,conn", LIMIT_CASES, ids=[c[0] for c in LIMIT_CASES])
def test_configured_limits(small_limits_port, case_id, raw, status, conn):
    """--max-header-bytes, --max-headers and --max-body are honoured."""
    with Conn(small_limits_port) as c:
        c.send(raw)
        r = c.read_response()
        assert r.status == status, r
        if conn == CLOSE:
            assert r.has_token("Connection", "close"), r
            assert c.closed_within(TIMEOUT)
        else:
            assert r.body == INDEX_BODY
            check_second_request_ok(c, case_id)
