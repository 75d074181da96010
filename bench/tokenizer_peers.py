#!/usr/bin/env python3
"""Single-thread GPT-2 encode throughput of tiktoken and HF tokenizers, next to gwo's.

Both peers are built from the same encoder.json + vocab.bpe that gwo-tokenizer-bench
loads (nothing is downloaded):
  tiktoken       tiktoken.Encoding with GPT-2's split pattern, mergeable_ranks from
                 encoder.json (token bytes via GPT-2's bytes<->unicode map -> id, which
                 is GPT-2's merge rank), special_tokens {"<|endoftext|>": 50256};
                 encode_ordinary() on the whole text.
  HF tokenizers  Tokenizer(BPE.from_file(encoder.json, vocab.bpe)) with a ByteLevel
                 pre-tokenizer (GPT-2's pattern, no prefix space); encode() on the whole
                 text as one sequence, add_special_tokens=False, TOKENIZERS_PARALLELISM
                 =false and RAYON_NUM_THREADS=1, so one thread.
Each encodes the text once untimed-cold (reported as "first"), then --runs timed
times; the median is reported. With --gwo-ids (ids from gwo-tokenizer-bench
--ids_out) the ids of all three are compared; with --gwo-json the table includes gwo.

Usage: tokenizer_peers.py --vocab-dir DIR --text FILE [--runs N] [--gwo-json JSON]
                          [--gwo-ids FILE]
"""
import os

# Before tokenizers is imported: one thread.
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
END_OF_TEXT = "<|endoftext|>"


def bytes_to_unicode():
    """GPT-2's map from each byte to the character that stands for it in the vocabulary."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def build_tiktoken(encoder):
    import tiktoken
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    ranks = {bytes(byte_of[ch] for ch in token): rank
             for token, rank in encoder.items() if token != END_OF_TEXT}
    enc = tiktoken.Encoding(name="gpt2-from-encoder-json", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                            special_tokens={END_OF_TEXT: encoder.get(END_OF_TEXT, 50256)})
    return enc.encode_ordinary, f"tiktoken {tiktoken.__version__}"


def build_hf(encoder_json, vocab_bpe):
    import tokenizers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    tok = Tokenizer(models.BPE.from_file(encoder_json, vocab_bpe))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()

    def encode(text):
        return tok.encode(text, add_special_tokens=False).ids
    return encode, f"HF tokenizers {tokenizers.__version__}"


def measure(encode, text, runs):
    """(ids, seconds of the first run, median seconds of `runs` more)."""
    start = time.perf_counter()
    ids = list(encode(text))
    first = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        encode(text)
        times.append(time.perf_counter() - start)
    return ids, first, statistics.median(times)


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def compare(name, ids, reference_name, reference, decode):
    """True when equal; otherwise prints where they first differ."""
    i = first_difference(ids, reference)
    if i is None:
        return True
    context = decode(reference[max(0, i - 8):i + 8])
    print(f"# {name} differs from {reference_name} at id {i} of {len(reference)}: "
          f"{ids[i:i + 8]} vs {reference[i:i + 8]} around {context!r}", file=sys.stderr)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab-dir", required=True, help="directory with encoder.json and vocab.bpe")
    parser.add_argument("--text", required=True, help="UTF-8 text file")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--gwo-json", help="the JSON line gwo-tokenizer-bench printed")
    parser.add_argument("--gwo-ids", help="gwo's ids, one per line (gwo-tokenizer-bench --ids_out)")
    args = parser.parse_args()

    encoder_json = os.path.join(args.vocab_dir, "encoder.json")
    vocab_bpe = os.path.join(args.vocab_dir, "vocab.bpe")
    with open(encoder_json, encoding="utf-8") as f:
        encoder = json.load(f)
    # Bytes, decoded as the C++ benchmark sees them (it reads bytes; the text is UTF-8).
    with open(args.text, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    megabytes = len(raw) / 1e6
    runs = max(1, args.runs)

    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    token_of = {i: t for t, i in encoder.items()}

    def decode(ids):
        return bytes(byte_of[ch] for i in ids for ch in token_of.get(i, "")).decode("utf-8", "replace")

    rows = []  # (name, MB/s median, MB/s first, ids)
    peers = [("tiktoken", lambda: build_tiktoken(encoder)), ("hf", lambda: build_hf(encoder_json, vocab_bpe))]
    for key, build in peers:
        try:
            encode, name = build()
        except ImportError as e:
            print(f"# {key}: not installed ({e}); skipped", file=sys.stderr)
            continue
        ids, first, median = measure(encode, text, runs)
        rows.append((name, megabytes / median, megabytes / first, ids))
        print(json.dumps({"tokenizer": name, "text": args.text, "bytes": len(raw), "tokens": len(ids),
                          "runs": runs, "mb_per_s": round(megabytes / median, 2),
                          "mb_per_s_first": round(megabytes / first, 2)}))

    if not rows:
        print("tokenizer_peers: neither tiktoken nor tokenizers is installed in this Python", file=sys.stderr)
        return 2

    gwo_ids = None
    if args.gwo_ids:
        with open(args.gwo_ids) as f:
            gwo_ids = [int(line) for line in f if line.strip()]
    gwo = json.loads(args.gwo_json) if args.gwo_json else None

    # Identical ids: every tokenizer against the first peer (tiktoken when installed).
    reference_name, reference = rows[0][0], rows[0][3]
    identical = {}
    for name, _, _, ids in rows:
        identical[name] = compare(name, ids, reference_name, reference, decode)
    if gwo_ids is not None:
        identical["gwo"] = compare("gwo", gwo_ids, reference_name, reference, decode)

    tiktoken_speed = next((speed for name, speed, _, _ in rows if name.startswith("tiktoken")), None)
    table = []
    if gwo is not None:
        table.append(("gwo (piece cache warm)", gwo["mb_per_s"], identical.get("gwo")))
        table.append(("gwo (piece cache cold)", gwo["mb_per_s_cold"], identical.get("gwo")))
    for name, speed, _, _ in rows:
        table.append((name, speed, identical.get(name)))

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    print()
    print(f"GPT-2 BPE, single thread, {args.text} ({len(raw):,} bytes, {len(reference)} tokens), "
          f"median of {runs} runs; {cpu}; Python {platform.python_version()}")
    print(f"{'tokenizer':<26} {'MB/s':>8} {'vs tiktoken':>12}  ids identical")
    for name, speed, same in table:
        ratio = f"{speed / tiktoken_speed:.2f}x" if tiktoken_speed else "n/a"
        same_text = "n/a" if same is None else ("yes" if same else "NO")
        print(f"{name:<26} {speed:>8.2f} {ratio:>12}  {same_text}")
    all_same = all(identical.values())
    print(f"all {len(identical)} tokenizers produce identical ids: {'yes' if all_same else 'NO'}")
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main())
