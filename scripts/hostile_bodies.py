"""Writes the hostile request bodies `make hostile` sends, each as large as the default body
limit allows (32 MiB), into the directory given as the first argument.

Each line of the manifest it prints is: name, content type, file, what it is.
"""

import base64
import os
import sys

LIMIT = 32 << 20  # front.body_limit_bytes by default
MIB = 1 << 20


def fill(prefix: bytes, item, suffix: bytes, limit: int = LIMIT) -> bytes:
    """prefix + item(0) + item(1) + ... + suffix, as many items as fit in `limit` bytes."""
    parts, size, i = [prefix], len(prefix) + len(suffix), 0
    while True:
        piece = item(i)
        if size + len(piece) > limit:
            break
        parts.append(piece)
        size += len(piece)
        i += 1
    parts.append(suffix)
    return b"".join(parts)


def json_tiny_points() -> bytes:
    body = fill(b'{"session":{"unit_id":"u","data":{', lambda i: b'"%d":1,' % i, b'"end":1}}}')
    return body


def json_bad_names() -> bytes:
    # Fewer points than the limit, each name too long (over 128 characters): one error each.
    name = b"n" * 17_000
    return fill(b'{"session":{"unit_id":"u","data":{', lambda i: b'"%d%s":"x",' % (i, name), b'"end":1}}}')


def json_max_text() -> bytes:
    # Valid: 1 MiB points of text, as many as fit.
    value = b"t" * (MIB - 64)
    return fill(b'{"session":{"unit_id":"u","data":{', lambda i: b'"p%d":"%s",' % (i, value), b'"end":1}}}')


def json_control_escapes() -> bytes:
    # Valid: text of control characters, 6 bytes each on the wire, echoed back escaped.
    value = b"\\u0001" * ((MIB - 64) // 6)
    return fill(b'{"session":{"unit_id":"u","data":{', lambda i: b'"p%d":"%s",' % (i, value), b'"end":1}}}')


def json_raw_data() -> bytes:
    # Valid: rawData of 1 MiB decoded each (1.33 MiB of base64).
    value = base64.b64encode(os.urandom(MIB - 64))
    return fill(b'{"session":{"unit_id":"u","data":{', lambda i: b'"p%d":{"rawData":"%s"},' % (i, value), b'"end":1}}}')


def json_ignored_array() -> bytes:
    # A huge array under a key the decoder ignores, and no session.
    return fill(b'{"other":[', lambda i: b"1,", b"1]}")


def form_tiny_points() -> bytes:
    return fill(b"session[unit_id]=u", lambda i: b"&session[data][%d]=" % i, b"")


def form_bad_fields() -> bytes:
    # Names under session[...] that fit no shape: one error each, all different.
    return fill(b"session[unit_id]=u", lambda i: b"&session[data][%d][x]=" % i, b"")


def form_percent_text() -> bytes:
    # Valid: 1 MiB points, every byte percent-encoded (3 bytes on the wire for 1 decoded).
    value = b"%41" * ((MIB - 64) // 3)
    return fill(b"session[unit_id]=u", lambda i: b"&session[data][p%d]=%s" % (i, value), b"")


BOUNDARY = b"hostileboundary"


def part(name: bytes, content: bytes, filename: bytes = b"") -> bytes:
    disposition = b'form-data; name="%s"' % name
    if filename:
        disposition += b'; filename="%s"' % filename
    return b"--%s\r\nContent-Disposition: %s\r\n\r\n%s\r\n" % (BOUNDARY, disposition, content)


def multipart_one_file() -> bytes:
    head = part(b"session[unit_id]", b"u")
    tail = b"--%s--\r\n" % BOUNDARY
    overhead = len(head) + len(part(b"session[data][f]", b"", b"f.bin")) + len(tail)
    return head + part(b"session[data][f]", os.urandom(LIMIT - overhead), b"f.bin") + tail


def multipart_tiny_parts() -> bytes:
    return fill(part(b"session[unit_id]", b"u"), lambda i: part(b"session[data][%d]" % i, b""), b"--%s--\r\n" % BOUNDARY)


def raw_attachment() -> bytes:
    return os.urandom(LIMIT)


SHAPES = [
    ("json-tiny-points", "application/json", json_tiny_points, "millions of 1-point entries (400)"),
    ("json-bad-names", "application/json", json_bad_names, "2,000 names too long (400, errors capped)"),
    ("json-max-text", "application/json", json_max_text, "32 text points of 1 MiB (valid)"),
    ("json-control-escapes", "application/json", json_control_escapes, "text of \\u0001 escapes (valid)"),
    ("json-raw-data", "application/json", json_raw_data, "24 rawData points of 1 MiB (valid)"),
    ("json-ignored-array", "application/json", json_ignored_array, "a 32 MiB array of an unknown key (400)"),
    ("form-tiny-points", "application/x-www-form-urlencoded", form_tiny_points, "millions of empty points (400)"),
    ("form-bad-fields", "application/x-www-form-urlencoded", form_bad_fields, "millions of misshapen names (400)"),
    ("form-percent-text", "application/x-www-form-urlencoded", form_percent_text, "%-encoded text points (valid)"),
    ("multipart-one-file", f"multipart/form-data; boundary={BOUNDARY.decode()}", multipart_one_file, "one 32 MiB file (valid)"),
    ("multipart-tiny-parts", f"multipart/form-data; boundary={BOUNDARY.decode()}", multipart_tiny_parts, "tiny parts past the limit (400)"),
    ("attachment-put", "application/octet-stream", raw_attachment, "PUT of a 32 MiB raw attachment (valid)"),
]


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, content_type, make, what in SHAPES:
        path = os.path.join(out, f"{name}.body")
        if not os.path.exists(path):
            body = make()
            assert len(body) <= LIMIT, (name, len(body))
            with open(path, "wb") as f:
                f.write(body)
        print(f"{name}\t{content_type}\t{path}\t{what}")


if __name__ == "__main__":
    main()
