"""Pure-Python reader/writer for Panda's write-ahead log (docs/FORMATS.md, "Write-ahead log").

Used by the WAL crash/recovery tests to check what the server wrote and to build damaged
files. It follows the format document (and mirrors the recovery rules) independently of the
server's C code:

    file    = header(16) record*
    header  = "PANDAWAL" | u32 version=1 | u32 CRC32C(bytes 0..11)
    record  = u32 crc | u32 len | u64 lsn | u8 type=1 | payload[len]
              crc = CRC32C(len | lsn | type | payload)
    payload = op*
    op      = 0x01 varint klen key varint vlen value i64 expire_ms   (SET, -1 = no expiry)
            | 0x02 varint klen key                                   (DEL)
            | 0x03                                                   (FLUSH)

All integers little-endian; varints unsigned LEB128.

The first record may carry any LSN > 0; each later record's LSN is exactly its predecessor's
plus 1 (as walfmt.c's walf_scan). A log rewritten after a snapshot covering S (S > 0) starts with
a *marker*: a record with LSN S and an empty payload (len 0, no ops), followed by the records
S+1, S+2, ... (Scan.marker / Scan.body / Scan.covers; marker_record() builds one). Any other
record holds at least one op. Recovery requires the snapshot to cover Scan.covers: the marker's
LSN when the log starts with one, else the first record's LSN - 1.
"""
import struct

MAGIC = b"PANDAWAL"
VERSION = 1
FILE_HDR = 16
REC_HDR = 17
REC_MAX = 0x7FFFFFFF
TYPE_BATCH = 1
OP_SET, OP_DEL, OP_FLUSH = 1, 2, 3

CLEAN, TORN, CORRUPT, BADHEADER = 0, 1, 2, 3
DAMAGE_NAMES = {CLEAN: "clean", TORN: "torn-tail", CORRUPT: "corrupt-middle", BADHEADER: "bad-header"}

# --------------------------------------------------------------------------- CRC32C

_POLY = 0x82F63B78  # reflected Castagnoli


def _make_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        t.append(c)
    return tuple(t)


_TABLE = _make_table()


def crc32c(data, crc=0):
    """CRC32C (Castagnoli) of data; crc continues a previous value (like crc32c_extend)."""
    t = _TABLE
    c = crc ^ 0xFFFFFFFF
    for b in bytes(data) if not isinstance(data, (bytes, bytearray)) else data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# --------------------------------------------------------------------------- encoding

def varint(n):
    if n < 0:
        raise ValueError("varint of a negative number")
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _b(x):
    if isinstance(x, str):
        return x.encode()
    if isinstance(x, int):
        return str(x).encode()
    return bytes(x)


def file_header():
    h = MAGIC + struct.pack("<I", VERSION)
    return h + struct.pack("<I", crc32c(h))


def op_set(key, value, expire_ms=-1):
    key, value = _b(key), _b(value)
    return (bytes([OP_SET]) + varint(len(key)) + key + varint(len(value)) + value
            + struct.pack("<q", expire_ms))


def op_del(key):
    key = _b(key)
    return bytes([OP_DEL]) + varint(len(key)) + key


def op_flush():
    return bytes([OP_FLUSH])


def encode_ops(ops):
    """ops: iterable of ("SET", key, value[, expire_ms]) / ("DEL", key) / ("FLUSH",)."""
    out = []
    for o in ops:
        kind = o[0].upper()
        if kind == "SET":
            out.append(op_set(o[1], o[2], o[3] if len(o) > 3 else -1))
        elif kind == "DEL":
            out.append(op_del(o[1]))
        elif kind == "FLUSH":
            out.append(op_flush())
        else:
            raise ValueError("unknown op %r" % (o,))
    return b"".join(out)


def record(lsn, ops=None, payload=None, rtype=TYPE_BATCH):
    """One record with the given LSN; either ops (see encode_ops) or a raw payload."""
    if payload is None:
        payload = encode_ops(ops or [])
    body = struct.pack("<IQB", len(payload), lsn, rtype) + payload
    return struct.pack("<I", crc32c(body)) + body


def marker_record(lsn):
    """The empty record a log rewritten after a snapshot covering lsn starts with."""
    if lsn <= 0:
        raise ValueError("a marker carries the snapshot's LSN (> 0)")
    return record(lsn, payload=b"")


def build(batches, first_lsn=1, marker=False):
    """A whole WAL image: header + one record per batch (list of ops). With marker=True the
    batches follow a marker of LSN first_lsn - 1, as in a log rewritten after a snapshot."""
    out = [file_header()]
    if marker:
        out.append(marker_record(first_lsn - 1))
    for i, ops in enumerate(batches):
        out.append(record(first_lsn + i, ops))
    return b"".join(out)


# --------------------------------------------------------------------------- decoding

class Op:
    __slots__ = ("op", "key", "value", "expire_ms")

    def __init__(self, op, key=None, value=None, expire_ms=-1):
        self.op, self.key, self.value, self.expire_ms = op, key, value, expire_ms

    @property
    def name(self):
        return {OP_SET: "SET", OP_DEL: "DEL", OP_FLUSH: "FLUSH"}[self.op]

    def as_tuple(self):
        if self.op == OP_SET:
            return ("SET", self.key, self.value, self.expire_ms)
        if self.op == OP_DEL:
            return ("DEL", self.key)
        return ("FLUSH",)

    def __repr__(self):
        return "Op%r" % (self.as_tuple(),)


class Record:
    __slots__ = ("offset", "lsn", "length", "size", "ops")

    def __init__(self, offset, lsn, length, ops):
        self.offset, self.lsn, self.length, self.ops = offset, lsn, length, ops
        self.size = REC_HDR + length

    @property
    def end(self):
        return self.offset + self.size

    @property
    def payload_offset(self):
        return self.offset + REC_HDR

    def __repr__(self):
        return "Record(offset=%d, lsn=%d, len=%d, ops=%r)" % (self.offset, self.lsn, self.length, self.ops)


class Scan:
    def __init__(self):
        self.records = []
        self.first_lsn = 0  # LSN of the first good record (the marker if any), 0 when there is none
        self.damage = CLEAN
        self.good_end = 0
        self.bad_offset = None
        self.bad_lsn = None
        self.next_valid = None

    @property
    def last_lsn(self):
        return self.records[-1].lsn if self.records else 0

    @property
    def marker(self):
        """The leading marker record (len 0, no ops), or None when the log does not start
        with one."""
        if self.records and self.records[0].length == 0:
            return self.records[0]
        return None

    @property
    def body(self):
        """The records after the marker (all of them when there is no marker)."""
        return self.records[1:] if self.marker is not None else list(self.records)

    def split(self):
        """(marker or None, the records after it)."""
        return self.marker, self.body

    @property
    def covers(self):
        """The LSN a snapshot must cover for this log to follow it: the marker's LSN, else the
        first record's LSN - 1 (0 for a log without records)."""
        m = self.marker
        if m is not None:
            return m.lsn
        return self.first_lsn - 1 if self.records else 0

    @property
    def stray_empty(self):
        """Empty records anywhere but first: the format has none (a marker only leads a log)."""
        return [r for r in self.records[1:] if r.length == 0]

    @property
    def damage_name(self):
        return DAMAGE_NAMES[self.damage]

    def state(self):
        """The keyspace the good records produce: {key: (value, expire_ms)} (expiry not applied)."""
        return apply_records(self.records)

    def __repr__(self):
        m = self.marker
        return ("Scan(records=%d, marker=%s, first_lsn=%d, last_lsn=%d, damage=%s, good_end=%d, bad_offset=%r, "
                "next_valid=%r)" % (
                    len(self.records), m.lsn if m is not None else None, self.first_lsn, self.last_lsn,
                    self.damage_name, self.good_end, self.bad_offset, self.next_valid))


def _varint_at(data, pos, end):
    r = 0
    shift = 0
    while shift < 64:
        if pos >= end:
            return None, pos
        c = data[pos]
        pos += 1
        r |= (c & 0x7F) << shift
        if not c & 0x80:
            return r, pos
        shift += 7
    return None, pos


def parse_ops(data, pos, end):
    """Decodes a payload data[pos:end]; returns a list of Op, or None if malformed."""
    ops = []
    while pos < end:
        op = data[pos]
        pos += 1
        if op == OP_FLUSH:
            ops.append(Op(OP_FLUSH))
            continue
        if op not in (OP_SET, OP_DEL):
            return None
        n, pos = _varint_at(data, pos, end)
        if n is None or n > end - pos:
            return None
        key = bytes(data[pos:pos + n])
        pos += n
        if op == OP_DEL:
            ops.append(Op(OP_DEL, key))
            continue
        n, pos = _varint_at(data, pos, end)
        if n is None or n > end - pos:
            return None
        value = bytes(data[pos:pos + n])
        pos += n
        if end - pos < 8:
            return None
        (exp,) = struct.unpack_from("<q", data, pos)
        pos += 8
        if exp < -1:
            return None
        ops.append(Op(OP_SET, key, value, exp))
    return ops


def read_record(data, off, expect_lsn=0):
    """The valid record at data[off:], or None. expect_lsn=0 accepts any LSN > 0."""
    n = len(data)
    if n - off < REC_HDR:
        return None
    crc, length, lsn, rtype = struct.unpack_from("<IIQB", data, off)
    if length > REC_MAX or length > n - off - REC_HDR:
        return None
    if lsn == 0 or (expect_lsn and lsn != expect_lsn) or rtype != TYPE_BATCH:
        return None
    if crc32c(memoryview(data)[off + 4:off + REC_HDR + length]) != crc:
        return None
    ops = parse_ops(data, off + REC_HDR, off + REC_HDR + length)
    if ops is None:
        return None
    return Record(off, lsn, length, ops)


def check_header(data):
    if len(data) < FILE_HDR or data[:8] != MAGIC:
        return False
    version, hcrc = struct.unpack_from("<II", data, 8)
    return version == VERSION and hcrc == crc32c(data[:12])


def _find_later_record(data, start, last_lsn):
    n = len(data)
    off = start + 1
    while off + REC_HDR <= n:
        if data[off + 16] == TYPE_BATCH:
            (lsn,) = struct.unpack_from("<Q", data, off + 8)
            if lsn > last_lsn and read_record(data, off, 0) is not None:
                return off
        off += 1
    return None


def scan(data, find_later=True):
    """Reads a WAL image the way recovery does. Returns a Scan."""
    if not isinstance(data, (bytes, bytearray)):
        data = bytes(data)
    s = Scan()
    if not check_header(data):
        s.damage = BADHEADER
        return s
    off = FILE_HDR
    n = len(data)
    while off < n:
        # The first record may carry any LSN (the log after a snapshot starts past 1); each
        # later one must follow its predecessor.
        rec = read_record(data, off, s.last_lsn + 1 if s.records else 0)
        if rec is None:
            break
        if not s.records:
            s.first_lsn = rec.lsn
        s.records.append(rec)
        off = rec.end
    s.good_end = off
    if off == n:
        return s
    s.bad_offset = off
    s.bad_lsn = s.last_lsn + 1
    if find_later:
        s.next_valid = _find_later_record(data, off, s.last_lsn)
    s.damage = CORRUPT if s.next_valid is not None else TORN
    return s


def scan_file(path, find_later=True):
    with open(path, "rb") as f:
        return scan(f.read(), find_later)


def apply_records(records, state=None):
    state = {} if state is None else state
    for rec in records:
        for op in rec.ops:
            if op.op == OP_SET:
                state[op.key] = (op.value, op.expire_ms)
            elif op.op == OP_DEL:
                state.pop(op.key, None)
            else:
                state.clear()
    return state
