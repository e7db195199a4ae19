#include "tools/command_line.h"

namespace spmd::tools {

std::optional<size_t> find_option(const std::vector<std::string>& command, const std::string& name) {
  for (size_t i = 0; i < command.size(); ++i) {
    if (command[i] == name && i + 1 < command.size()) return i;
    if (command[i].rfind(name + "=", 0) == 0) return i;
  }
  return std::nullopt;
}

std::string value_at(const std::vector<std::string>& command, size_t i, const std::string& name) {
  return command[i] == name ? command[i + 1] : command[i].substr(name.size() + 1);
}

}  // namespace spmd::tools
