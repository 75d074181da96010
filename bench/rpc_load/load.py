"""The coordinator under mixed load, from the outside: GEN_CLIENTS threads streaming
Generate from a trained run, SUBMITTERS threads submitting experiments (that queue:
they ask for a GPU the CPU worker does not have), READERS threads polling GetRun and
GetQueue, all while a worker trains a run and reports its metrics. Every call is
timed on the client; prints per-RPC count, p50, p99 and max in milliseconds as JSON.

Usage: /usr/bin/python3 load.py GEN_DIR ADDR TOKEN RUN_ID JOB_FILE SECONDS
"""
import json
import sys
import threading
import time

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from gwo.v1 import experiments_pb2, experiments_pb2_grpc  # noqa: E402
from gwo.v1 import generation_pb2, generation_pb2_grpc  # noqa: E402

ADDR, TOKEN, RUN, JOB, SECONDS = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
GEN_CLIENTS, SUBMITTERS, READERS = 32, 20, 4
META = [("authorization", "Bearer " + TOKEN)]
spec = open(JOB).read()
lock = threading.Lock()
samples = {}  # rpc -> [ms]
errors = {}
stop = time.time() + SECONDS


def record(name, t0, ok=True):
    ms = (time.perf_counter() - t0) * 1000
    with lock:
        samples.setdefault(name, []).append(ms)
        if not ok:
            errors[name] = errors.get(name, 0) + 1


def generator(i):
    stub = generation_pb2_grpc.GenerationServiceStub(grpc.insecure_channel(ADDR))
    while time.time() < stop:
        t0 = time.perf_counter()
        first = None
        ok = True
        try:
            req = generation_pb2.GenerateRequest(run_id=RUN, prompt="def ", max_tokens=32, temperature=1.0, seed=i)
            for _ in stub.Generate(req, metadata=META, timeout=60):
                if first is None:
                    first = time.perf_counter()
                    record("Generate first chunk", t0)
        except grpc.RpcError:
            ok = False
        record("Generate whole stream", t0, ok)


def submitter(i):
    stub = experiments_pb2_grpc.ExperimentServiceStub(grpc.insecure_channel(ADDR))
    n = 0
    while time.time() < stop:
        n += 1
        t0 = time.perf_counter()
        ok = True
        try:
            stub.SubmitExperiment(experiments_pb2.SubmitExperimentRequest(
                spec_yaml=spec, file_name="load.yaml", idempotency_key=f"load-{i}-{n}"), metadata=META, timeout=30)
        except grpc.RpcError:
            ok = False
        record("SubmitExperiment", t0, ok)


def reader(i):
    exp = experiments_pb2_grpc.ExperimentServiceStub(grpc.insecure_channel(ADDR))
    queue = experiments_pb2_grpc.QueueServiceStub(grpc.insecure_channel(ADDR))
    while time.time() < stop:
        t0 = time.perf_counter()
        ok = True
        try:
            exp.GetRun(experiments_pb2.GetRunRequest(run_id=RUN), metadata=META, timeout=30)
        except grpc.RpcError:
            ok = False
        record("GetRun", t0, ok)
        t0 = time.perf_counter()
        try:
            queue.GetQueue(experiments_pb2.GetQueueRequest(), metadata=META, timeout=30)
        except grpc.RpcError:
            ok = False
        record("GetQueue", t0, ok)
        time.sleep(0.05)


threads = ([threading.Thread(target=generator, args=(i,)) for i in range(GEN_CLIENTS)] +
           [threading.Thread(target=submitter, args=(i,)) for i in range(SUBMITTERS)] +
           [threading.Thread(target=reader, args=(i,)) for i in range(READERS)])
for t in threads:
    t.start()
for t in threads:
    t.join()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))]  # nearest rank


rows = {name: {"n": len(xs), "p50_ms": round(pct(xs, 50), 1), "p99_ms": round(pct(xs, 99), 1),
               "max_ms": round(max(xs), 1), "errors": errors.get(name, 0)} for name, xs in sorted(samples.items())}
print(json.dumps({"seconds": SECONDS, "generate_clients": GEN_CLIENTS, "submitters": SUBMITTERS, "readers": READERS,
                  "rpcs": rows}, indent=1))
