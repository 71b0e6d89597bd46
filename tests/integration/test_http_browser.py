"""A real browser against the server: headless Chromium loads the bundled
demo site and takes a screenshot. The screenshot must show the page as
styled by demo/style.css with demo/img/logo.png in it, and the access log
must show the page, the stylesheet and the image served with 200."""
import os
import re
import subprocess

import pytest

from conftest import ROOT
from http_util import png_decode

CHROMIUM = "/usr/bin/chromium"
DEMO = os.path.join(ROOT, "demo")

HEADER_BG = (0x13, 0x1a, 0x30)  # header { background: #131a30 } in demo/style.css
LOGO_RING = (0, 190, 170)       # the ring in demo/img/logo.png


def near(a, b, tol=8):
    return all(abs(x - y) <= tol for x, y in zip(a, b))


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="/usr/bin/chromium is missing (Debian package chromium; scripts/install-deps.sh installs it)")
def test_chromium_renders_demo_site(server, tmp_path):
    log = tmp_path / "access.log"
    srv = server("serve", "http", DEMO, "--listen", "127.0.0.1:0", "--access-log", str(log))
    url = "http://127.0.0.1:%d/" % srv.port()
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    profile.mkdir()
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--user-data-dir=%s" % profile, "--screenshot=%s" % shot,
            "--window-size=800,600", url]
    env = dict(os.environ, HOME=str(tmp_path))
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)  # the browser's own process group, started above
        out, _ = p.communicate()
        pytest.fail("chromium did not finish in 60 s:\n" + out.decode(errors="replace")[-3000:])
    out = out.decode(errors="replace")
    assert shot.exists(), "no screenshot (exit %d):\n%s" % (p.returncode, out[-3000:])
    data = shot.read_bytes()
    assert len(data) > 5000, "screenshot is only %d bytes" % len(data)
    width, height, rows = png_decode(data)
    assert (width, height) == (800, 600)
    colours = {px for row in rows[::4] for px in row[::4]}
    assert len(colours) > 50, "screenshot looks blank: %d colours" % len(colours)
    assert near(rows[5][5], HEADER_BG), "stylesheet not applied: top-left pixel is %r" % (rows[5][5],)
    assert any(near(px, LOGO_RING, 6) for row in rows[:200] for px in row[:200]), \
        "logo not rendered in the header"

    err = srv.stop()
    assert srv.proc.returncode == 0, err
    lines = log.read_text(errors="replace").splitlines()

    def status_of(path):
        for line in lines:
            m = re.search(r'"GET (\S+) HTTP/1\.[01]" (\d{3}) ', line)
            if m and m.group(1) == path:
                return m.group(2)
        return None

    for path in ("/", "/style.css", "/img/logo.png"):
        assert status_of(path) == "200", "access log has no 200 for %s:\n%s" % (path, "\n".join(lines))
