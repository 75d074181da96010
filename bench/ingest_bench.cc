// Metric ingestion into PostgreSQL: many concurrent workers' reports through the
// coordinator's store path (Store::RecordMetrics: fenced, exactly-once, latest
// values maintained), against a raw COPY of the same rows into the same table on
// the same server. Prints points/s of both and their ratio.
//
//   gwo-ingest-bench [--workers 16] [--steps 2500] [--names 4] [--batch 500]
//                    [--database_url URL]   (default: an embedded, durable cluster in /tmp)
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/flags.h"
#include "server/store/embedded_postgres.h"
#include "server/store/store.h"

ABSL_FLAG(int, workers, 16, "concurrent workers, one run each");
ABSL_FLAG(int, steps, 2500, "steps per run");
ABSL_FLAG(int, names, 4, "metric names per step");
ABSL_FLAG(int, batch, 500, "points per report (gwo-worker sends at most 500)");
ABSL_FLAG(std::string, database_url, "", "PostgreSQL to use; default: an embedded durable cluster in /tmp");

namespace {

using gwo::server::MetricPointRecord;

int Fail(const std::string& m) {
  std::cerr << "gwo-ingest-bench: " << m << "\n";
  return 1;
}

std::string Scalar(PGconn* c, const char* sql) {
  PGresult* r = PQexec(c, sql);
  std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "?";
  PQclear(r);
  return v;
}

bool Exec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok) std::cerr << sql << ": " << PQerrorMessage(c);
  PQclear(r);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  gwo::ParseFlags(argc, argv);
  const int workers = absl::GetFlag(FLAGS_workers), steps = absl::GetFlag(FLAGS_steps);
  const int names = absl::GetFlag(FLAGS_names), batch = absl::GetFlag(FLAGS_batch);

  std::unique_ptr<gwo::server::EmbeddedPostgres> pg;
  std::string dir;
  std::string url = absl::GetFlag(FLAGS_database_url);
  if (url.empty()) {
    char tmpl[] = "/tmp/gwo-ingest-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Fail("mkdtemp failed");
    dir = tmpl;
    std::filesystem::permissions(dir, std::filesystem::perms::all);
    gwo::server::EmbeddedPostgresOptions o;
    o.data_dir = dir;  // durable, as gwo-coordinator runs it
    auto started = gwo::server::EmbeddedPostgres::Start(o);
    if (!started.ok()) return Fail(started.status().ToString());
    pg = std::move(*started);
    url = pg->url();
  }
  auto store = gwo::server::Store::Open(url, workers);
  if (!store.ok()) return Fail(store.status().ToString());
  if (auto s = (*store)->Migrate(); !s.ok()) return Fail(s.ToString());

  // One run per worker, each claimed (running attempt 1) as a dispatch would.
  std::vector<gwo::server::NewRun> runs(workers);
  for (int i = 0; i < workers; ++i) runs[i].name = absl::StrCat("run", i);
  auto e = (*store)->CreateExperiment("ingest-bench", "", absl::StrCat("bench-", getpid(), "-", absl::ToUnixNanos(absl::Now())), runs, nullptr);
  if (!e.ok()) return Fail(e.status().ToString());
  std::vector<int64_t> run_ids;
  for (int i = 0; i < workers; ++i) {
    auto w = (*store)->UpsertWorker({absl::StrCat("bench-worker-", i), "localhost", "[]", 1, {}});
    if (!w.ok()) return Fail(w.status().ToString());
    auto a = (*store)->ClaimNextRun(*w);
    if (!a.ok() || !a->has_value()) return Fail("claim failed");
    run_ids.push_back((*a)->run_id);
  }
  // The rows every worker reports: (step, name) for each step and name.
  std::vector<MetricPointRecord> series;
  for (int s = 1; s <= steps; ++s) {
    for (int n = 0; n < names; ++n) series.push_back({s, absl::StrCat("metric_", n), 1.0 / (s + n)});
  }
  const int64_t total = static_cast<int64_t>(series.size()) * workers;

  // 1. Through the store, all workers at once.
  absl::Time t0 = absl::Now();
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      for (size_t i = 0; i < series.size(); i += batch) {
        std::vector<MetricPointRecord> part(series.begin() + i,
                                            series.begin() + std::min(series.size(), i + batch));
        if (!(*store)->RecordMetrics(run_ids[w], 1, part).ok()) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double ingest_s = absl::ToDoubleSeconds(absl::Now() - t0);
  if (errors > 0) return Fail(absl::StrCat(errors.load(), " reports failed"));

  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) return Fail(PQerrorMessage(c));
  const std::string stored = Scalar(c, "SELECT count(*) FROM metrics");
  const std::string pg_version = Scalar(c, "SHOW server_version");
  const std::string fsync = Scalar(c, "SHOW fsync");

  // 2. The same rows by one raw COPY into the same (emptied) table.
  if (!Exec(c, "TRUNCATE metrics, latest_metrics") || !Exec(c, "CHECKPOINT")) return Fail("truncate");
  std::string text;
  t0 = absl::Now();
  {
    PGresult* start = PQexec(c, "COPY metrics (run_id, name, step, attempt, value) FROM STDIN");
    const bool copying = PQresultStatus(start) == PGRES_COPY_IN;
    PQclear(start);
    if (!copying) return Fail(absl::StrCat("COPY: ", PQerrorMessage(c)));
  }
  for (int w = 0; w < workers; ++w) {
    for (const MetricPointRecord& p : series) {
      absl::StrAppend(&text, run_ids[w], "\t", p.name, "\t", p.step, "\t1\t", absl::StrFormat("%.17g", p.value), "\n");
      if (text.size() > (1 << 20)) {
        PQputCopyData(c, text.data(), static_cast<int>(text.size()));
        text.clear();
      }
    }
  }
  PQputCopyData(c, text.data(), static_cast<int>(text.size()));
  PQputCopyEnd(c, nullptr);
  PGresult* r = PQgetResult(c);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) return Fail(PQerrorMessage(c));
  PQclear(r);
  const double copy_s = absl::ToDoubleSeconds(absl::Now() - t0);
  PQfinish(c);

  const double ingest_rate = total / ingest_s, copy_rate = total / copy_s;
  std::cout << absl::StrFormat(
      "PostgreSQL %s (fsync=%s), %d workers x %d steps x %d names = %d points, reports of %d points\n"
      "store ingestion: %d points stored in %.3f s = %.0f points/s\n"
      "raw COPY:        %d points in %.3f s = %.0f points/s\n"
      "ratio ingestion/COPY: %.2f\n",
      pg_version, fsync, workers, steps, names, total, batch, std::atoll(stored.c_str()), ingest_s, ingest_rate,
      total, copy_s, copy_rate, ingest_rate / copy_rate);
  store->reset();
  pg.reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}
