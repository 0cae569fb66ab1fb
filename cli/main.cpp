// The xbarnet program's entry point (cli/program.hpp does the work).
#include <iostream>

#include "cli/program.hpp"

int main(int argc, char** argv) {
  return xbarnet::cli::run_program(argc, argv, std::cout, std::cerr);
}
