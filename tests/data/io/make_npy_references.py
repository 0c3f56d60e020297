"""Writes the reference NPY files in this directory with NumPy.

The fmala NPY tests read these files to check the reader against NumPy's
writer and to check the writer's output against NumPy's bytes. Run from this
directory with NumPy installed: python3 make_npy_references.py
"""

import numpy as np

np.save("numpy_f8_2x3.npy", np.array([[-1.5, 0.0, 0.25], [1e300, -2.5e-300, 3.0]], dtype="<f8"))
np.save("numpy_f4_4.npy", np.array([0.1, -2.0, 3.5, 1e30], dtype="<f4"))
np.save("numpy_f8_2x2x3.npy", np.arange(12, dtype="<f8").reshape(2, 2, 3) / 4.0)
np.save("numpy_i8_3.npy", np.array([-(2**40), 0, 7], dtype="<i8"))
np.save("numpy_i4_2x2.npy", np.array([[-5, 6], [2**31 - 1, -(2**31)]], dtype="<i4"))
np.save("numpy_u1_4.npy", np.array([0, 1, 128, 255], dtype="|u1"))
np.save("numpy_f8_scalar.npy", np.array(2.5, dtype="<f8"))
np.save("numpy_f8_0x3.npy", np.zeros((0, 3), dtype="<f8"))

# Arrays the reader must reject.
np.save("numpy_f8_fortran_2x3.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
np.save("numpy_big_endian_f8_3.npy", np.array([1.0, 2.0, 3.0], dtype=">f8"))
np.save("numpy_c16_2.npy", np.array([1 + 2j, 3 - 4j], dtype="<c16"))

# Format version 2.0 (4-byte header length), which the reader accepts.
with open("numpy_v2_f8_3.npy", "wb") as f:
    np.lib.format.write_array(f, np.array([1.0, -2.0, 4.5]), version=(2, 0))

# Malformed files derived from a valid one.
valid = open("numpy_f8_2x3.npy", "rb").read()
header_length = int.from_bytes(valid[8:10], "little")
header = valid[10 : 10 + header_length]
data = valid[10 + header_length :]
with open("truncated_f8_2x3.npy", "wb") as f:
    f.write(valid[:-8])
with open("trailing_bytes_f8_2x3.npy", "wb") as f:
    f.write(valid + b"\0" * 8)
with open("bad_magic.npy", "wb") as f:
    f.write(b"\x93NUMPZ" + valid[6:])
with open("truncated_header.npy", "wb") as f:
    f.write(valid[:40])


def with_header(text):
    padded = text + b" " * (header_length - 1 - len(text)) + b"\n"
    assert len(padded) == header_length
    return valid[:10] + padded + data


with open("header_missing_shape.npy", "wb") as f:
    f.write(with_header(b"{'descr': '<f8', 'fortran_order': False, }"))
with open("header_syntax_error.npy", "wb") as f:
    f.write(with_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), "))
with open("header_unknown_key.npy", "wb") as f:
    f.write(with_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'x': 1}"))
