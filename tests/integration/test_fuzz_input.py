"""Hostile input: random and mutated requests on many connections never crash the server,
never stall other clients, and never make it allocate what a client merely declared.

Deterministic (fixed seed) so a failure reproduces. Run under the ASan+UBSan build by
`make test`, where any out-of-bounds access fails the teardown check."""
import random
import socket

from conftest import encode_command, read_vmrss_kb

SEED = 20261124
ROUNDS = 400

VALID = [
    encode_command("SET", "k", "v"),
    encode_command("GET", "k"),
    encode_command("MSET", "a", "1", "b", "2"),
    encode_command("INCR", "n"),
    encode_command("SCAN", "0", "MATCH", "*", "COUNT", "5"),
    b"PING\r\n",
    b"SET \"a b\" 'c d'\r\n",
    encode_command("EXPIRE", "k", "100"),
    encode_command("MULTI") + encode_command("SET", "x", "1") + encode_command("EXEC"),
]

HOSTILE = [
    b"*2147483647\r\n",
    b"*1\r\n$2147483647\r\n",
    b"*-1\r\n*0\r\n",
    b"*1\r\n$-1\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\n",
    b"$5\r\nhello\r\n",
    b"*1\r\n*1\r\n$4\r\nPING\r\n",
    b"\"unterminated\r\n",
    b"\x00\x01\x02\xff\r\n",
    b"*99999999999999999999\r\n",
    b"*1\r\n$99999999999999999999\r\n",
    b"\r\n\r\n\n\n",
]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randint(0, 4)
        if op == 0 and data:  # flip a byte
            i = rng.randrange(len(data))
            data[i] = rng.randrange(256)
        elif op == 1 and data:  # truncate
            del data[rng.randrange(len(data)):]
        elif op == 2:  # insert random bytes
            i = rng.randint(0, len(data))
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3:  # duplicate a slice
            i = rng.randint(0, len(data))
            data[i:i] = data[: rng.randint(0, len(data))]
        else:  # splice a hostile fragment
            i = rng.randint(0, len(data))
            data[i:i] = rng.choice(HOSTILE)
    return bytes(data)


def test_random_and_mutated_input(server):
    rng = random.Random(SEED)
    observer = server.client()
    observer.set("observer", "alive")
    rss_before = read_vmrss_kb(server.pid)
    for i in range(ROUNDS):
        payload = mutate(rng, rng.choice(VALID + HOSTILE)) if rng.random() < 0.8 else bytes(
            rng.randrange(256) for _ in range(rng.randint(1, 200)))
        with socket.create_connection((server.host, server.port), timeout=5) as s:
            s.settimeout(0.05)
            try:
                # in random slices, to hit every partial-read path
                pos = 0
                while pos < len(payload):
                    n = rng.randint(1, 16)
                    s.sendall(payload[pos:pos + n])
                    pos += n
                s.recv(4096)
            except (socket.timeout, ConnectionError):
                pass
        if i % 50 == 0:  # other clients keep being served
            assert observer.get("observer") == b"alive"
    assert observer.ping()
    assert observer.get("observer") == b"alive"
    # Declared-but-unsent lengths (2 GB bulks) were never allocated.
    assert read_vmrss_kb(server.pid) - rss_before < 50 * 1024
