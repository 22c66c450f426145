#!/usr/bin/env python3
"""Writes the hostile-input corpus: malformed, truncated, oversized, wrongly typed, deeply
nested, invalid UTF-8 and Vietnamese-with-combining-marks inputs for every parser at the trust
boundary. Run once; the files are checked in and tests/hostile_corpus.rs feeds each to its parser.
"""
import json, os, random

random.seed(20261124)
here = os.path.dirname(os.path.abspath(__file__))

def write(kind, name, data):
    d = os.path.join(here, kind)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

VI = "Thông báo tiêm chủng xã Phù Đổng"          # precomposed
VI_COMBINING = "Tho\u0302ng ba\u0301o tie\u0302\u0301m chu\u0309ng"  # decomposed marks

schedule_doc = {"kind": "schedule", "scope": "commune/phu-dong", "revision": 7,
                "issued_at": "2026-11-23T08:00:00Z", "approver": VI,
                "schedule": "[[program]]\nid = \"morning\"\ncron = \"30 5 * * *\"\nitems = [\"chime\"]\n"}
manifest = {"kind": "bulletin", "scope": "commune/phu-dong", "id": "tiem-chung",
            "issued_at": "2026-11-23T07:45:00Z", "title": VI,
            "sha256": "ab" * 32, "size": 90278, "duration_ms": 11259, "codec": "mp3",
            "chunk_size": 65536, "chunks": ["cd" * 32, "ef" * 32], "valid_until": None,
            "approver": "x"}
command = {"kind": "command", "scope": "all", "issued_at": "2026-11-24T02:40:00Z",
           "valid_until": "2026-11-24T03:10:00Z", "approver": "x",
           "action": {"do": "play_now", "bulletin": "bao-lu", "priority": "emergency"}}
envelope = {"v": 1, "signed": json.dumps(schedule_doc), "signature": "untrusted comment: x\nRUQ\ntrusted comment: y\nzz\n"}

def json_mutations(base, kind, prefix):
    text = json.dumps(base, ensure_ascii=False)
    n = 0
    # truncations
    for cut in sorted(set([1, 2, 5, 10, len(text) // 3, len(text) // 2, len(text) - 1])):
        write(kind, f"{prefix}-truncated-{cut:04}.json", text[:cut]); n += 1
    # each field: removed, wrong type, huge number, empty string, vietnamese combining
    for key in base:
        b = dict(base); del b[key]; write(kind, f"{prefix}-missing-{key}.json", json.dumps(b)); n += 1
        for label, value in [("array", [1, 2]), ("null", None), ("bignum", 10 ** 40),
                             ("negative", -1), ("nested", {"a": {"b": [{}]}}),
                             ("combining", VI_COMBINING), ("float", 1e308)]:
            b = dict(base); b[key] = value
            write(kind, f"{prefix}-{key}-{label}.json", json.dumps(b, ensure_ascii=False)); n += 1
    b = dict(base); b["extra_field"] = 1; write(kind, f"{prefix}-unknown-field.json", json.dumps(b)); n += 1
    write(kind, f"{prefix}-deep-array.json", "[" * 20000 + "]" * 20000); n += 1
    write(kind, f"{prefix}-deep-object.json", '{"a":' * 10000 + "1" + "}" * 10000); n += 1
    write(kind, f"{prefix}-invalid-utf8.json", text.encode()[:20] + b"\xff\xfe\xc3\x28" + text.encode()[20:]); n += 1
    write(kind, f"{prefix}-bom.json", b"\xef\xbb\xbf" + text.encode()); n += 1
    write(kind, f"{prefix}-nul.json", text.encode() + b"\x00"); n += 1
    write(kind, f"{prefix}-empty.json", b""); n += 1
    write(kind, f"{prefix}-random.json", bytes(random.getrandbits(8) for _ in range(512))); n += 1
    return n

total = 0
total += json_mutations(envelope, "envelope", "envelope")
total += json_mutations(schedule_doc, "document", "schedule")
total += json_mutations(manifest, "document", "manifest")
total += json_mutations(command, "document", "command")

# Control-socket requests.
for i, req in enumerate([
    "", "{}", '{"cmd":1}', '{"cmd":"reboot"}', '{"cmd":"volume","percent":-1}',
    '{"cmd":"volume","percent":1e9}', '{"cmd":"play_now"}', '{"cmd":"play_now","item":7}',
    '{"cmd":"play_now","item":"x","priority":"highest"}', '{"cmd":"program_add"}',
    '{"cmd":"program_remove","id":null}', '{"cmd":"status"' , "[" * 20000,
    '{"cmd":"program_enable","id":"x","enabled":"yes"}', "\xff\xfe",
]):
    write("control", f"request-{i:02}.json", req); total += 1
write("control", "request-invalid-utf8.json", b'{"cmd":"\xff"}'); total += 1

# Schedule TOML.
schedules = [
    "[[program]]", "[[program]]\nid = 1", "[[program]]\nid = \"a\"\ncron = 5\nitems = [\"chime\"]",
    "[[program]]\nid = \"a\"\ncron = \"99 99 99 99 99\"\nitems = [\"chime\"]",
    "[[program]]\nid = \"a\"\ncron = \"* * * * * * * *\"\nitems = [\"chime\"]",
    "[[program]]\nid = \"a\"\nat = [\"9999-99-99T99:99\"]\nitems = [\"chime\"]",
    "[[program]]\nid = \"a\"\nat = [\"2026-11-24T05:00\"]\nitems = [\"../../etc/passwd\"]",
    "[[program]]\nid = \"a\"\nat = [\"2026-11-24T05:00\"]\nitems = [\"/dev/zero\"]",
    "[[program]]\nid = \"a\"\nat = [\"2026-11-24T05:00\"]\nitems = []",
    "[[program]]\nid = \"a\"\nat = [\"2026-11-24T05:00\"]\nitems = [\"chime\"]\nvolume = 1e309",
    "[[program]]\nid = \"a\"\nat = [\"2026-11-24T05:00\"]\nitems = [\"chime\"]\nwhen_busy = \"wait 99999999999999999999\"",
    "[[program]]\nid = \"a\"\nat = [\"2026-11-24T05:00\"]\nitems = [\"chime\"]\npriority = \"highest\"",
    "timezone = \"Mars/Olympus\"\n[[program]]\nid = \"a\"\ncron = \"0 6 * * *\"\nitems = [\"chime\"]",
    f"[[program]]\nid = \"{VI_COMBINING}\"\ncron = \"0 6 * * *\"\nitems = [\"chime\"]",
    f"[[program]]\nid = \"a\"\ntitle = \"{VI_COMBINING}\"\ncron = \"0 6 * * *\"\nitems = [\"bulletin:{VI}\"]",
    "[[program]]\nid = \"a\"\ncron = \"0 6 * * *\"\nitems = [\"chime\"]\nrelay = \"ftp://x\"",
    "a = " + "[" * 2000 + "]" * 2000,
    "a = " + "{ b = " * 2000 + "1" + " }" * 2000,
    "[[program]]\nid = \"a\"\ncron = \"0 6 * * *\"\nitems = [\"chime\"]\nvalid_from = \"2026-02-30\"",
    "[[program]]\nid = \"" + "x" * 100000 + "\"\ncron = \"0 6 * * *\"\nitems = [\"chime\"]",
]
for i, text in enumerate(schedules):
    write("schedule", f"schedule-{i:02}.toml", text); total += 1
write("schedule", "schedule-invalid-utf8.toml", b"[[program]]\nid = \"\xff\xfe\"\n"); total += 1
base = "[[program]]\nid = \"morning\"\ncron = \"30 5 * * *\"\nitems = [\"chime\"]\n"
for cut in range(1, len(base), 4):
    write("schedule", f"schedule-truncated-{cut:03}.toml", base[:cut]); total += 1

# Box configuration.
configs = [
    "box_id = 5", "box_id = \"../etc\"", "sample_rate = 0", "sample_rate = 99999999999",
    "catch_up_minutes = -5", "catch_up_minutes = nan", "timezone = \"\"", "output = \"wav:\"",
    "output = \"nonsense:x\"", "[amplifier]\nwarm_up_seconds = 1e20", "[link]", "[link]\nurl = 7",
    "[link]\nurl = \"mqtt://x\"\ntrusted_keys = [\"not a key\"]", "[link]\nurl = \"mqtt://x\"\ncommune = \"a/b\"",
    "[[window]]\nfrom = \"25:00\"\nto = \"26:00\"", "[[window]]\nfrom = \"05:00\"", "[[window]]\nfrom = \"05:00\"\nto = \"22:00\"\nvolume = 2",
    "loudness_target_lufs = 0", "true_peak_ceiling_dbtp = 10", "unknown_key = 1",
    "a = " + "[" * 3000 + "]" * 3000, f"box_id = \"{VI_COMBINING}\"",
]
for i, text in enumerate(configs):
    write("config", f"config-{i:02}.toml", text); total += 1
write("config", "config-invalid-utf8.toml", b"box_id = \"\xc3\x28\"\n"); total += 1

# Audio files claiming to be MP3, FLAC, M4A, WAV, OGG.
frame = bytes([0xFF, 0xFB, 0x90, 0x64]) + bytes(413)
audio = {
    "garbage.mp3": bytes(random.getrandbits(8) for _ in range(4096)),
    "one-header.mp3": frame[:4],
    "id3-only.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x10" + bytes(16),
    "id3-huge-size.mp3": b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f",
    "frames-of-zeros.mp3": frame * 50,
    "flac-header-only.flac": b"fLaC\x00\x00\x00\x22" + bytes(34),
    "wav-lying-size.wav": b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x44\xac\x00\x00\x10\xb1\x02\x00\x04\x00\x10\x00data\xff\xff\xff\xff",
    "wav-zero-channels.wav": b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x00\x00\x44\xac\x00\x00\x10\xb1\x02\x00\x04\x00\x10\x00data\x00\x00\x00\x00",
    "m4a-truncated.m4a": b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00\x00\x08moov",
    "ogg-capture-only.ogg": b"OggS" + bytes(60),
    "text.mp3": ("Đây không phải là âm thanh " * 20).encode(),
    "empty.mp3": b"",
}
for name, data in audio.items():
    write("audio", name, data); total += 1

print(f"{total} hostile inputs written")
