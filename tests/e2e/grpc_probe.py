"""Standard gRPC probes against a coordinator, as a load balancer or grpcurl would call
them, with raw protobuf bytes (no gwo code, no generated stubs). Run it with Debian's
/usr/bin/python3 (python3-grpcio):

  grpc_probe.py health ADDR SERVING|NOT_SERVING [SECONDS]
      grpc.health.v1.Health/Check (no token) until it answers that status (default 0 s:
      once); exit 0 when it did.
  grpc_probe.py reflection ADDR SERVICE...
      grpc.reflection.v1alpha.ServerReflection lists every SERVICE; exit 0 when it does.
"""
import sys
import time

import grpc

STATUS = {1: "SERVING", 2: "NOT_SERVING"}


def health(addr, want, seconds):
    check = grpc.insecure_channel(addr).unary_unary("/grpc.health.v1.Health/Check")
    deadline = time.time() + seconds
    while True:
        got = "?"
        try:
            # HealthCheckRequest{service: ""} is the empty message; the answer is
            # field 1 (status) as a varint: 0x08 <status>.
            raw = check(b"", timeout=5)
            got = STATUS.get(raw[1], str(raw[1])) if len(raw) == 2 and raw[0] == 0x08 else repr(raw)
        except grpc.RpcError as e:
            got = e.code().name
        if got == want:
            print(f"health: {got}")
            return 0
        if time.time() >= deadline:
            print(f"health: {got}, expected {want}")
            return 1
        time.sleep(0.2)


def reflection(addr, services):
    info = grpc.insecure_channel(addr).stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    # ServerReflectionRequest{list_services: "*"}: field 7, a string.
    answers = list(info(iter([b"\x3a\x01*"]), timeout=10))
    listed = b"".join(answers)
    missing = [s for s in services if s.encode() not in listed]
    print("reflection: " + ("lists " + ", ".join(services) if not missing else "missing " + ", ".join(missing)))
    return 1 if missing else 0


if __name__ == "__main__":
    if sys.argv[1] == "health":
        sys.exit(health(sys.argv[2], sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 0))
    sys.exit(reflection(sys.argv[2], sys.argv[3:]))
