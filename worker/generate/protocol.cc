#include "worker/generate/protocol.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace gwo::generate {
namespace {

using nlohmann::json;

// Text is valid UTF-8 by construction (TextStream); replace rather than throw if not.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string EncodeCommand(const ServeCommand& c) {
  json j;
  j["id"] = c.id;
  if (c.op == ServeCommand::Op::kCancel) {
    j["op"] = "cancel";
    return Dump(j);
  }
  const GenerateRequest& r = c.request;
  j["op"] = "generate";
  j["checkpoint"] = c.checkpoint;
  j["prompt"] = r.prompt;
  j["max_tokens"] = r.max_tokens;
  j["temperature"] = r.sampling.temperature;
  j["top_k"] = r.sampling.top_k;
  j["top_p"] = r.sampling.top_p;
  j["seed"] = r.sampling.seed;
  j["stop"] = r.stop;
  j["ignore_eos"] = r.ignore_eos;
  return Dump(j);
}

std::string EncodeReply(const ServeReply& r) {
  json j;
  if (r.ready) {
    j["ready"] = true;
    j["device"] = r.device;
    return Dump(j);
  }
  const GenerateEvent& e = r.event;
  j["id"] = r.id;
  j["text"] = e.text;
  j["tokens"] = e.tokens;
  if (e.done) {
    j["done"] = true;
    j["finish_reason"] = e.finish_reason;
    j["prompt_tokens"] = e.prompt_tokens;
    j["completion_tokens"] = e.completion_tokens;
    if (!e.status.ok()) {
      j["code"] = static_cast<int>(e.status.code());
      j["message"] = std::string(e.status.message());
    }
  }
  return Dump(j);
}

absl::StatusOr<ServeCommand> DecodeCommand(std::string_view line) {
  try {
    const json j = json::parse(line);
    ServeCommand c;
    c.id = j.at("id").get<uint64_t>();
    const std::string op = j.at("op").get<std::string>();
    if (op == "cancel") {
      c.op = ServeCommand::Op::kCancel;
      return c;
    }
    if (op != "generate") {
      return absl::InvalidArgumentError(
          absl::StrCat("serve command: op must be generate or cancel, got '", op, "'"));
    }
    c.checkpoint = j.at("checkpoint").get<std::string>();
    GenerateRequest& r = c.request;
    r.prompt = j.at("prompt").get<std::string>();
    r.max_tokens = j.value("max_tokens", r.max_tokens);
    r.sampling.temperature = j.value("temperature", r.sampling.temperature);
    r.sampling.top_k = j.value("top_k", r.sampling.top_k);
    r.sampling.top_p = j.value("top_p", r.sampling.top_p);
    r.sampling.seed = j.value("seed", r.sampling.seed);
    r.stop = j.value("stop", r.stop);
    r.ignore_eos = j.value("ignore_eos", r.ignore_eos);
    return c;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("serve command: ", e.what()));
  }
}

absl::StatusOr<ServeReply> DecodeReply(std::string_view line) {
  try {
    const json j = json::parse(line);
    ServeReply r;
    if (j.value("ready", false)) {
      r.ready = true;
      r.device = j.value("device", "");
      return r;
    }
    r.id = j.at("id").get<uint64_t>();
    GenerateEvent& e = r.event;
    e.text = j.value("text", "");
    e.tokens = j.value("tokens", std::vector<int32_t>{});
    e.done = j.value("done", false);
    if (e.done) {
      e.finish_reason = j.value("finish_reason", "");
      e.prompt_tokens = j.value("prompt_tokens", 0);
      e.completion_tokens = j.value("completion_tokens", 0);
      if (j.contains("code")) {
        e.status = absl::Status(static_cast<absl::StatusCode>(j.at("code").get<int>()),
                                j.value("message", ""));
      }
    }
    return r;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("serve reply: ", e.what()));
  }
}

}  // namespace gwo::generate
