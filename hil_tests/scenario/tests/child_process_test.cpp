// ChildProcess: stdout lines, the optional stdin pipe, and writes to a child that has gone.
#include "mpi/hil/child_process.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace mpi::hil {
namespace {

using namespace std::chrono_literals;

bool sigpipe_blocked() {
  sigset_t mask;
  sigemptyset(&mask);
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, SIGPIPE) == 1;
}

bool sigpipe_pending() {
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

TEST(ChildProcess, StdinPipeCarriesALineToTheChild) {
  ChildProcess child({"/bin/sh", "-c", "echo prompt; read line; echo \"got:$line\"; read more; echo \"then:$more\""}, "",
                     ChildStdin::pipe);
  EXPECT_EQ(child.wait_for_line("prompt", 10s), "prompt");
  child.write_stdin("first answer\n");
  EXPECT_EQ(child.wait_for_line("got:", 10s), "got:first answer");
  child.write_stdin("sec");
  child.write_stdin("ond\n");
  EXPECT_EQ(child.wait_for_line("then:", 10s), "then:second");
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(ChildProcess, CloseStdinGivesTheChildEndOfFile) {
  ChildProcess child({"/bin/cat"}, "", ChildStdin::pipe);
  child.write_stdin("a\nb\n");
  child.close_stdin();
  child.close_stdin();  // closing twice is harmless
  EXPECT_EQ(child.wait(10s), 0);  // cat ends only at end of file
  EXPECT_EQ(child.output(), "a\nb\n");
  EXPECT_THROW(child.write_stdin("c\n"), std::logic_error);
}

// SIGPIPE at its default disposition (it ends the process) for the test's scope.
class DefaultSigpipe {
 public:
  DefaultSigpipe() {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGPIPE, &dfl, &saved_);
  }
  ~DefaultSigpipe() { sigaction(SIGPIPE, &saved_, nullptr); }
  DefaultSigpipe(const DefaultSigpipe&) = delete;
  DefaultSigpipe& operator=(const DefaultSigpipe&) = delete;

 private:
  struct sigaction saved_ {};
};

TEST(ChildProcess, WritingToAnExitedChildRaisesNoSigpipe) {
  const DefaultSigpipe dfl;
  ASSERT_FALSE(sigpipe_blocked());
  ChildProcess child({"/bin/sh", "-c", "exit 3"}, "", ChildStdin::pipe);
  ASSERT_EQ(child.wait(10s), 3);
  // With the default disposition a SIGPIPE would end this test process here.
  child.write_stdin("nobody reads this\n");
  child.write_stdin(std::string(1 << 17, 'x'));
  EXPECT_FALSE(sigpipe_pending());
  EXPECT_FALSE(sigpipe_blocked());  // the thread's mask is as it was
  child.close_stdin();
}

TEST(ChildProcess, WithoutAStdinPipeWritingIsRefused) {
  ChildProcess child({"/bin/sh", "-c", "echo done"});
  EXPECT_THROW(child.write_stdin("x\n"), std::logic_error);
  EXPECT_EQ(child.wait_for_line("done", 10s), "done");
  EXPECT_EQ(child.wait(10s), 0);
}

}  // namespace
}  // namespace mpi::hil
