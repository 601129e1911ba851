// conversions-cli: see cli/cli.h and `conversions-cli --help`.
#include <grpc/support/log.h>

#include <cstdlib>
#include <iostream>

#include "cli/cli.h"

int main(int argc, char** argv) {
  // gRPC's own log lines ("E1128 ... Handshake failed") would come before
  // the CLI's error, which says the same with a hint; GRPC_VERBOSITY set
  // by the user keeps them.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) {
    gpr_set_log_function([](gpr_log_func_args*) {});
  }
  const int status = conversions::cli::RunCli(argc, argv, std::cout, std::cerr);
  std::cout.flush();
  return status;
}
