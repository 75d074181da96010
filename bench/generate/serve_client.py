"""gwo's generation engine without the network: tokens/s of `gwo-train --serve`
(the worker's generation server) at several concurrency levels, over its JSON-lines
protocol (worker/generate/protocol.h). Run beside the gRPC figures it shows how much
of the time the serving path (worker, coordinator, gRPC streams) adds.

  python3 serve_client.py GWO_TRAIN CHECKPOINT [--concurrency 1,32] [--tokens 256]
"""
import argparse
import json
import statistics
import subprocess
import threading
import time

PROMPT = "The quick brown fox jumps over the lazy dog"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gwo_train")
    ap.add_argument("checkpoint")
    ap.add_argument("--concurrency", default="1,32")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    serve = subprocess.Popen([args.gwo_train, "--serve"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, bufsize=1)
    done = {}
    counts = {}
    cv = threading.Condition()

    def read():
        for line in serve.stdout:
            r = json.loads(line)
            if "id" not in r:
                continue
            with cv:
                counts[r["id"]] = counts.get(r["id"], 0) + len(r.get("tokens", []))
                if r.get("done"):
                    if r.get("finish_reason") == "error":
                        print("error:", r.get("message"))
                    done[r["id"]] = time.perf_counter()
                    cv.notify_all()

    threading.Thread(target=read, daemon=True).start()
    next_id = [1]

    def round_of(c):
        ids = list(range(next_id[0], next_id[0] + c))
        next_id[0] += c
        t0 = time.perf_counter()
        for i in ids:
            serve.stdin.write(json.dumps({"op": "generate", "id": i, "checkpoint": args.checkpoint,
                                          "prompt": PROMPT, "max_tokens": args.tokens,
                                          "temperature": 0, "ignore_eos": True}) + "\n")
        serve.stdin.flush()
        with cv:
            cv.wait_for(lambda: all(i in done for i in ids), timeout=600)
        end = max(done[i] for i in ids)
        return sum(counts[i] for i in ids) / (end - t0)

    round_of(1)  # warm-up: loads the model
    rows = []
    for c in [int(x) for x in args.concurrency.split(",")]:
        rates = [round_of(c) for _ in range(args.repeats)]
        median = statistics.median(rates)
        print(f"gwo engine (serve, no gRPC), {c} concurrent: median {median:.1f} tok/s "
              f"(best {max(rates):.1f}) over {len(rates)} rounds")
        rows.append({"concurrency": c, "tokens_per_s": median, "best_tokens_per_s": max(rates)})
    serve.stdin.close()
    serve.wait(timeout=60)
    if args.json:
        json.dump(rows, open(args.json, "w"))


if __name__ == "__main__":
    main()
