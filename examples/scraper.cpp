// scraper.cpp — the seed scraper: fetch many URLs concurrently with coreio::http::client, at most
// `--limit` at once and each under a per-request timeout; every failure is reported for its URL
// without stopping the others; a progress line on stderr while it runs (only when stderr is a
// terminal); a summary at the end.
//
//     async def fetch(session, sem, url):
//         async with sem:
//             try:
//                 async with session.get(url, timeout=ClientTimeout(total=t)) as r:
//                     return url, r.status, len(await r.read()), None
//             except Exception as e:
//                 return url, None, 0, e
//
//     async def main(urls):
//         sem = asyncio.Semaphore(limit)
//         async with aiohttp.ClientSession() as session:
//             results = await asyncio.gather(*(fetch(session, sem, u) for u in urls))
//
// Usage: scraper [--limit N] [--timeout MS] URL...
// With no URL it starts a small site of its own on 127.0.0.1 (pages, a 404, a page that never
// answers, a malformed response) and scrapes it: the smoke test runs that.
#include <coreio/coreio.hpp>
#include <coreio/http.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace http = coreio::http;
using namespace std::chrono_literals;

namespace {

// ---- the built-in site (HTTP/1.1 keep-alive, on coreio::net) ------------------------------------

coreio::task<> serve_site(coreio::net::tcp_stream conn) {
  try {
    for (;;) {
      const std::string head = co_await conn.read_until("\r\n\r\n", 16 * 1024);
      const std::size_t a = head.find(' '), b = head.find(' ', a + 1);
      const std::string path = head.substr(a + 1, b - a - 1);
      if (path == "/slow") {  // never answers: the client's timeout ends it
        std::array<std::byte, 256> sink;
        while (co_await conn.read_some(std::span(sink)) > 0) {
        }
        co_return;
      }
      std::string response;
      if (path == "/broken") {
        response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello";
      } else if (path.starts_with("/page/")) {
        const std::size_t n = std::stoul(path.substr(6));
        const std::string body(1000 * (n + 1), static_cast<char>('a' + n % 26));
        response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body;
      } else {
        response = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
      }
      co_await conn.write_all(std::string_view(response));
    }
  } catch (const std::exception&) {
    // The client closed the connection.
  }
}

// ---- the scraper --------------------------------------------------------------------------------

struct result {
  int status = 0;
  std::size_t bytes = 0;
  std::string error;  // "" if fetched
  bool timed_out = false;
};

struct progress {
  std::size_t total = 0;
  std::atomic<std::size_t> done{0};
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  bool tty = false;
  void tick() {
    const std::size_t d = done.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!tty) return;
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\r[%zu/%zu] %.0f URLs/s", d, total, s > 0 ? d / s : 0.0);
    if (d == total) std::fprintf(stderr, "\n");
  }
};

coreio::task<result> fetch(http::client* session, coreio::semaphore* limit,
                           const http::request_options* options, std::string url, progress* prog) {
  result r;
  auto permit = co_await limit->acquire();
  try {
    http::response resp = co_await session->get(url, *options);
    r.status = resp.status();
    const std::string body = co_await resp.read();
    r.bytes = body.size();
  } catch (const coreio::timeout_error& e) {
    r.error = e.what();
    r.timed_out = true;
  } catch (const std::exception& e) {  // http::error, connection errors
    r.error = e.what();
  }
  prog->tick();
  co_return r;
}

coreio::task<int> scrape(std::vector<std::string> urls, std::size_t limit,
                         std::chrono::milliseconds timeout) {
  http::client session;  // keep-alive pool shared by every fetch
  coreio::semaphore in_flight{limit};
  http::request_options options{.timeout = http::timeouts{.total = timeout}};
  progress prog;
  prog.total = urls.size();
  prog.tty = ::isatty(STDERR_FILENO) != 0;

  std::vector<coreio::task<result>> fetches;
  for (const std::string& u : urls)
    fetches.push_back(fetch(&session, &in_flight, &options, u, &prog));
  const std::vector<result> results = co_await coreio::gather(std::move(fetches));
  co_await session.close();

  std::size_t ok = 0, failed = 0, timeouts = 0, bytes = 0;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    const result& r = results[i];
    if (r.error.empty()) {
      std::cout << urls[i] << " -> " << r.status << ", " << r.bytes << " bytes\n";
      ++ok;
      bytes += r.bytes;
    } else {
      std::cout << urls[i] << " -> error: " << r.error << "\n";
      ++failed;
      timeouts += r.timed_out ? 1 : 0;
    }
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - prog.start).count();
  std::cout << "scraped " << urls.size() << " URLs: " << ok << " fetched, " << failed << " failed ("
            << timeouts << " timed out), " << bytes << " bytes" << std::endl;
  std::cerr << "took " << s << " s\n";
  co_return failed == 0 ? 0 : 1;
}

coreio::task<int> scrape_own_site(std::size_t limit, std::chrono::milliseconds timeout) {
  auto site = coreio::net::serve(coreio::net::tcp_listener::bind("127.0.0.1", 0), serve_site);
  const std::string base = "http://127.0.0.1:" + std::to_string(site.port());
  std::vector<std::string> urls;
  for (int i = 0; i < 12; ++i) urls.push_back(base + "/page/" + std::to_string(i));
  urls.push_back(base + "/missing");
  urls.push_back(base + "/slow");
  urls.push_back(base + "/broken");
  auto run = scrape(urls, limit, timeout);
  const int rc = co_await std::move(run);
  site.stop();
  co_await site.wait();
  co_return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t limit = 4;
  std::chrono::milliseconds timeout = 500ms;
  std::vector<std::string> urls;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--limit" && i + 1 < argc) limit = std::stoul(argv[++i]);
    else if (a == "--timeout" && i + 1 < argc)
      timeout = std::chrono::milliseconds(std::stol(argv[++i]));
    else urls.emplace_back(a);
  }
  if (limit == 0) limit = 1;
  // The built-in site has a page that times out and a broken one: 1 (some failed) is the expected
  // outcome there.
  if (urls.empty()) return coreio::run(scrape_own_site(limit, timeout)) == 1 ? 0 : 1;
  return coreio::run(scrape(std::move(urls), limit, timeout));
}
