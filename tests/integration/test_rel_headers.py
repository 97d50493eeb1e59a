"""reliability.md "Header fields": one test per row (or per case of a row), exact raw bytes,
exact status lines."""


import mkt
from mkt import eq
import test_rel_util as U

SRV = None


def setup_module():
    global SRV
    SRV = mkt.Server(conf={"Timeout": "5"}).start()
    return SRV


def teardown_module():
    SRV.stop(check_fds=False)


RL = b"GET /one.txt HTTP/1.1\r\n"


def with_headers(*lines, rl=RL):
    """The request line, then each header line (bytes) with CRLF, then the empty line."""
    return rl + b"".join(ln + b"\r\n" for ln in lines) + b"\r\n"


def send_big(raw, what, allow_close):
    """Send raw from a thread while reading: the answer must be 413 (or, with allow_close, a
    close without any answer), then the connection closed."""
    c = SRV.client(timeout=15)
    t = c.send_in_background(raw)
    try:
        data = c.recv_until_close(timeout=15)
    except TimeoutError:
        raise AssertionError("%s: no answer and no close within 15 s" % what)
    finally:
        t.join(15)
        U.drop(SRV, c)
    if not data and allow_close:
        return
    status = data.split(b"\r\n", 1)[0].decode("latin-1")
    eq(status, U.S413, "%s (%d bytes sent): status line" % (what, len(raw)))
    U.still_serves(SRV)


# -- one 64 KiB header, 1 MiB of headers, 10 000 tiny headers: 413 (or close) --------------------

@mkt.timeout(40)
def test_one_64k_header_413():
    send_big(with_headers(b"Host: localhost", b"X-Big: " + b"a" * 65536), "one 64 KiB header",
             allow_close=False)


@mkt.timeout(40)
def test_1m_of_headers_413_or_close():
    hs = [b"X-H%d: %s" % (i, b"v" * 1000) for i in range(1050)]
    send_big(with_headers(b"Host: localhost", *hs), "1 MiB of headers", allow_close=True)


@mkt.timeout(40)
def test_10000_tiny_headers_413():
    hs = [b"a:b"] * 10000
    send_big(with_headers(b"Host: localhost", *hs), "10 000 tiny headers", allow_close=False)


# -- line without a colon, empty name, space in the name: 400 ------------------------------------

def test_line_without_colon_400():
    U.expect(SRV, with_headers(b"Host: localhost", b"NoColonHere"), U.S400)


def test_empty_name_400():
    U.expect(SRV, with_headers(b"Host: localhost", b": value"), U.S400)
    U.expect(SRV, with_headers(b"Host: localhost", b":"), U.S400)


def test_space_in_name_400():
    U.expect(SRV, with_headers(b"Host: localhost", b"X Y: z"), U.S400)


def test_non_token_byte_in_name_400():
    for n in [b"X(Y", b"X@Y", b"X\x00Y", b"X\x7fY", b"X\xe9Y", b"X\"Y"]:
        U.expect(SRV, with_headers(b"Host: localhost", n + b": 1"), U.S400, what="name %r" % n)


# -- space before the colon (M), obs-fold (M), whitespace before the first header (M): 400 -------

def test_space_before_colon_400():
    U.expect(SRV, with_headers(b"Host : localhost"), U.S400)
    U.expect(SRV, with_headers(b"Host: localhost", b"Content-Length : 0"), U.S400)
    U.expect(SRV, with_headers(b"Host\t: localhost"), U.S400)


def test_obs_fold_400():
    U.expect(SRV, with_headers(b"Host: localhost", b"X-A: 1", b" continued"), U.S400)
    U.expect(SRV, with_headers(b"Host: localhost", b"X-A: 1", b"\tcontinued"), U.S400)


def test_whitespace_before_first_header_400():
    U.expect(SRV, with_headers(b" Host: localhost"), U.S400)
    U.expect(SRV, with_headers(b"\tHost: localhost"), U.S400)


# -- NUL or bare CR in a value (M), bare CR as line end (M): 400 ---------------------------------

def test_nul_in_value_400():
    U.expect(SRV, with_headers(b"Host: localhost", b"X-A: a\x00b"), U.S400)
    U.expect(SRV, with_headers(b"Host: local\x00host"), U.S400)


def test_bare_cr_in_value_400():
    U.expect(SRV, with_headers(b"Host: localhost", b"X-A: a\rb"), U.S400)


def test_bare_cr_line_end_400():
    U.expect(SRV, b"GET /one.txt HTTP/1.1\r\nHost: localhost\rX-A: b\r\n\r\n", U.S400)
    U.expect(SRV, b"GET /one.txt HTTP/1.1\rHost: localhost\r\n\r\n", U.S400)


def test_other_control_in_value_400():
    for b in [b"\x01", b"\x0b", b"\x1f", b"\x7f"]:
        U.expect(SRV, with_headers(b"Host: localhost", b"X-A: a" + b + b"b"), U.S400,
                 what="value byte %r" % b)


# -- bare LF line ends: accepted -----------------------------------------------------------------

def test_bare_lf_line_ends_200():
    U.expect(SRV, b"GET /one.txt HTTP/1.1\nHost: localhost\n\n", U.S200, body=b"x")


def test_mixed_crlf_and_lf_200():
    U.expect(SRV, b"GET /one.txt HTTP/1.1\r\nHost: localhost\nX-A: 1\r\n\n", U.S200, body=b"x")


# -- high-bit bytes in a value; empty value: accepted --------------------------------------------

def test_high_bit_value_200():
    U.expect(SRV, with_headers(b"Host: localhost", b"X-A: caf\xc3\xa9 \xff\x80"), U.S200,
             body=b"x")


def test_empty_value_200():
    U.expect(SRV, with_headers(b"Host: localhost", b"X-Empty:"), U.S200, body=b"x")
    U.expect(SRV, with_headers(b"Host: localhost", b"X-Empty: "), U.S200, body=b"x")
    U.expect(SRV, with_headers(b"Host: localhost", b"X-Empty:\t"), U.S200, body=b"x")


# -- HTTP/1.1 without Host (M), two Host (M), Host with '/', '..', '\' or space (M): 400 ---------

def test_http11_without_host_400():
    U.expect(SRV, with_headers(b"X-A: 1"), U.S400)
    U.expect(SRV, with_headers(), U.S400)


def test_two_host_headers_400():
    U.expect(SRV, with_headers(b"Host: localhost", b"Host: localhost"), U.S400)
    U.expect(SRV, with_headers(b"Host: localhost", b"Host: other"), U.S400)
    U.expect(SRV, with_headers(b"Host: localhost", b"HOST: localhost"), U.S400)


def test_host_with_slash_400():
    U.expect(SRV, with_headers(b"Host: local/host"), U.S400)
    U.expect(SRV, with_headers(b"Host: localhost/"), U.S400)


def test_host_with_dotdot_400():
    U.expect(SRV, with_headers(b"Host: .."), U.S400)
    U.expect(SRV, with_headers(b"Host: ../etc"), U.S400)
    U.expect(SRV, with_headers(b"Host: a..b"), U.S400)


def test_host_with_backslash_400():
    U.expect(SRV, with_headers(b"Host: local\\host"), U.S400)


def test_host_with_space_400():
    U.expect(SRV, with_headers(b"Host: local host"), U.S400)


# -- empty Host; Host port over 65535: 400 -------------------------------------------------------

def test_empty_host_400():
    U.expect(SRV, with_headers(b"Host:"), U.S400)
    U.expect(SRV, with_headers(b"Host: "), U.S400)


def test_host_port_over_65535_400():
    for h in [b"localhost:65536", b"localhost:99999", b"localhost:123456", b"localhost:-1",
              b"localhost:1a", b"[::1]:70000"]:
        U.expect(SRV, with_headers(b"Host: " + h), U.S400, what="Host %r" % h)


def test_host_port_65535_200():
    U.expect(SRV, with_headers(b"Host: localhost:65535"), U.S200, body=b"x")


# -- HTTP/1.0 without Host: 200 ------------------------------------------------------------------

def test_http10_without_host_200():
    U.expect(SRV, b"GET /one.txt HTTP/1.0\r\n\r\n", U.S200, body=b"x")
