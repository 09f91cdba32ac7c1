// HTTP/1.1 parser benchmarks: src/http/parser.cpp framing whole messages fed in one piece, against
// llhttp alone on the same bytes (no callbacks set: the floor coreio's layer sits on, since the
// parser runs llhttp over every byte and adds head_scan and the callbacks).
//
//   response  an nginx-like 200 head (Server, Date, Content-Type, Content-Length, Last-Modified,
//             Connection, ETag, Accept-Ranges; 239 bytes) and a 1 KiB Content-Length body. The
//             coreio side does what the client does (src/http/client.cpp): reset, the request
//             method, feed to the head, the head's fields swapped out into a response's list
//             (which dies with the response), then feed to the body and to the end.
//   request   a curl-like GET head (Host, User-Agent, Accept; 88 bytes). The coreio side does
//             what the server does (src/http/server_connection.cpp): reset, feed to the head,
//             read it in place (the fields stay in the parser), feed to the end.
//
// One message per benchmark iteration; items_per_second is messages per second on one thread.
//
// Names: http_parse/<response|request>/<coreio|llhttp>/threads:1 (summary.py pairs only coreio
// with asio, so these print as rows without a partner there; read them side by side here).
//
// Instructions per message, the figure to compare on a noisy machine: run under callgrind at two
// fixed counts and divide the difference: with COREIO_HTTP_PARSE_ITERATIONS=n set, every
// benchmark runs exactly n iterations, once, so
//   COREIO_HTTP_PARSE_ITERATIONS=20000 valgrind --tool=callgrind --callgrind-out-file=/dev/null
//   build/release/bench/coreio_bench_http_parse --benchmark_filter=response/coreio
// (one command line) prints "Collected : N" on stderr; the same at 5000, and
// (N20000 - N5000) / 15000 is the cost of one message.
#include "http/llhttp_dispatch.h"
#include "http/parser.hpp"

#include <benchmark/benchmark.h>
#include <llhttp.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace {

using coreio::http::detail::field_list;
using coreio::http::detail::parse_event;
using coreio::http::detail::parser;

constexpr std::size_t body_size = 1024;

// The head nginx 1.22 sends for a static 1 KiB page, then the page.
std::string response_wire() {
  std::string w =
      "HTTP/1.1 200 OK\r\n"
      "Server: nginx/1.22.1\r\n"
      "Date: Tue, 01 Dec 2026 10:25:00 GMT\r\n"
      "Content-Type: text/html\r\n"
      "Content-Length: 1024\r\n"
      "Last-Modified: Mon, 30 Nov 2026 09:14:07 GMT\r\n"
      "Connection: keep-alive\r\n"
      "ETag: \"6565c7d0-400\"\r\n"
      "Accept-Ranges: bytes\r\n"
      "\r\n";
  w.append(body_size, 'x');
  return w;
}

// What curl 7.88 sends for `curl http://127.0.0.1:8080/index.html`.
std::string request_wire() {
  return "GET /index.html HTTP/1.1\r\n"
         "Host: 127.0.0.1:8080\r\n"
         "User-Agent: curl/7.88.1\r\n"
         "Accept: */*\r\n"
         "\r\n";
}

[[noreturn]] void wrong(const char* what) {
  std::fprintf(stderr, "http_parse_bench: %s\n", what);
  std::abort();
}

void response_coreio(benchmark::State& state) {
  const std::string wire = response_wire();
  parser p(parser::mode::response);
  for (auto _ : state) {
    p.reset();
    p.set_request_method("GET");
    std::span<const char> in(wire);
    auto r = p.feed(in);
    if (r.event != parse_event::head || p.head().status != 200 || p.head().headers.size() != 8) {
      wrong("response head not parsed");
    }
    field_list taken;  // the response's fields, as the client hands them over
    taken.swap(p.head().headers);
    benchmark::DoNotOptimize(taken.data());
    std::size_t body = 0;
    for (;;) {
      in = in.subspan(r.consumed);
      r = p.feed(in);
      if (r.event == parse_event::body) body += r.body.size();
      if (r.event == parse_event::end) break;
      if (r.event == parse_event::need_more) wrong("response cut short");
    }
    if (body != body_size) wrong("response body size");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void request_coreio(benchmark::State& state) {
  const std::string wire = request_wire();
  parser p(parser::mode::request, {.max_start_line = 8 * 1024,
                                   .max_field = 8 * 1024,
                                   .max_head = 32 * 1024,
                                   .max_headers = 100,
                                   .max_body = {}});
  for (auto _ : state) {
    p.reset();
    std::span<const char> in(wire);
    auto r = p.feed(in);
    if (r.event != parse_event::head || p.head().method != "GET" || !p.head().find("host")) {
      wrong("request head not parsed");
    }
    in = in.subspan(r.consumed);
    r = p.feed(in);
    if (r.event != parse_event::end) wrong("request not ended");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// llhttp with no callbacks: it frames the message (and skips the body) and calls nothing. Through
// the same copy of llhttp the parser runs (the SSE4.2 one where the CPU has it: llhttp_dispatch.h).
void llhttp_alone(benchmark::State& state, llhttp_type_t type, const std::string& wire) {
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  llhttp_t p;
  llhttp_init(&p, type, &settings);
  for (auto _ : state) {
    llhttp_reset(&p);
    if (coreio_llhttp_execute(&p, wire.data(), wire.size()) != HPE_OK) wrong("llhttp failed");
    benchmark::DoNotOptimize(p.content_length);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void register_all() {
  // COREIO_HTTP_PARSE_ITERATIONS: a fixed count, for instruction counting (see the top).
  const char* fixed = std::getenv("COREIO_HTTP_PARSE_ITERATIONS");
  const auto iterations = fixed != nullptr ? std::strtoll(fixed, nullptr, 10) : 0;
  auto configure = [&](benchmark::internal::Benchmark* b) {
    if (iterations > 0) b->Iterations(iterations)->Repetitions(1);
  };
  configure(benchmark::RegisterBenchmark("http_parse/response/coreio/threads:1", response_coreio));
  configure(benchmark::RegisterBenchmark("http_parse/response/llhttp/threads:1", [](auto& st) {
    llhttp_alone(st, HTTP_RESPONSE, response_wire());
  }));
  configure(benchmark::RegisterBenchmark("http_parse/request/coreio/threads:1", request_coreio));
  configure(benchmark::RegisterBenchmark("http_parse/request/llhttp/threads:1", [](auto& st) {
    llhttp_alone(st, HTTP_REQUEST, request_wire());
  }));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
