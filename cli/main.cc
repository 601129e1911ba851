// conversions-cli: see cli/cli.h and `conversions-cli --help`.
#include <iostream>

#include "cli/cli.h"

int main(int argc, char** argv) {
  const int status = conversions::cli::RunCli(argc, argv, std::cout, std::cerr);
  std::cout.flush();
  return status;
}
