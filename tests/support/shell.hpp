// support/shell.hpp — runs a shell command from a test and returns its exit status and output
// (stdout and stderr together), for the tests that check the project's output with outside tools
// (promtool, python3's json module, tools/coreio-trace, curl).
//
// posix_spawn, not popen or system: a fork() of a multi-threaded test process runs the fork
// handlers (mimalloc's among them) and has hung its workers' exit; posix_spawn runs none. The
// output goes through a temporary file, so no pipe can fill up while the caller waits.
//
// Thread safety: any thread; blocks the caller until the command ends (call it from a plain thread
// or the blocking pool, never from a worker that must keep serving).
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

extern char** environ;

namespace coreio_test {

struct shell_result {
  /// The command's exit status (0..255), or -1 when it could not be started or did not exit.
  int status = -1;
  /// stdout and stderr, interleaved as written.
  std::string output;
};

/// Runs `sh -c command` with both output streams captured.
inline shell_result run_shell(const std::string& command) {
  shell_result r;
  char path[] = "/tmp/coreio_test_shell_XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) {
    r.output = "mkstemp failed";
    return r;
  }
  ::close(fd);
  const std::string redirected = "{ " + command + "\n} > " + path + " 2>&1";
  const char* argv[] = {"sh", "-c", redirected.c_str(), nullptr};
  pid_t pid = 0;
  if (::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ) !=
      0) {
    std::remove(path);
    r.output = "posix_spawn failed";
    return r;
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
  }
  if (WIFEXITED(wstatus)) r.status = WEXITSTATUS(wstatus);
  std::ifstream in(path, std::ios::binary);
  r.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  std::remove(path);
  return r;
}

/// Writes `text` to a fresh file under the test's temporary directory and returns its path; the
/// caller removes it.
inline std::string write_temp_file(const std::string& stem, const std::string& text) {
  char path[256];
  std::snprintf(path, sizeof path, "/tmp/%s_XXXXXX", stem.c_str());
  const int fd = ::mkstemp(path);
  if (fd < 0) return {};
  ::close(fd);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace coreio_test
