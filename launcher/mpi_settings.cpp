#include "launcher/mpi_settings.h"

#include <mpi.h>

#include <string_view>
#include <vector>

namespace spmd::launcher {
namespace {

// The variables that choose among MPI's collectives; the rest of the framework's tune them.
bool chooses_collectives(std::string_view name) {
  if (name == "coll") return true;
  if (!name.starts_with("coll_")) return false;
  if (name.ends_with("_priority")) return true;
  return name.starts_with("coll_tuned_") &&
         (name.ends_with("_algorithm") || name == "coll_tuned_use_dynamic_rules" ||
          name == "coll_tuned_dynamic_rules_filename");
}

// The value of variable `index` as text, in `out`; false where it could not be read (a type
// other than text or one whole number).
bool read_value(int index, MPI_Datatype type, std::string& out) {
  MPI_T_cvar_handle handle;
  int count = 0;
  if (MPI_T_cvar_handle_alloc(index, nullptr, &handle, &count) != MPI_SUCCESS) return false;
  bool read = false;
  if (type == MPI_CHAR && count > 0) {
    std::vector<char> text(static_cast<size_t>(count) + 1, '\0');
    read = MPI_T_cvar_read(handle, text.data()) == MPI_SUCCESS;
    out = text.data();
  } else if (count == 1 && (type == MPI_INT || type == MPI_UNSIGNED)) {
    int value = 0;
    read = MPI_T_cvar_read(handle, &value) == MPI_SUCCESS;
    out = type == MPI_INT ? std::to_string(value) : std::to_string(static_cast<unsigned>(value));
  } else if (count == 1 && (type == MPI_LONG_LONG || type == MPI_UNSIGNED_LONG_LONG || type == MPI_LONG ||
                            type == MPI_UNSIGNED_LONG)) {
    long long value = 0;
    read = MPI_T_cvar_read(handle, &value) == MPI_SUCCESS;
    out = std::to_string(value);
  }
  MPI_T_cvar_handle_free(&handle);
  return read;
}

}  // namespace

std::map<std::string, std::string> mpi_collective_settings() {
  std::map<std::string, std::string> settings;
  // At the thread level MPI runs at: Open MPI's MPI_T_init_thread sets the level
  // MPI_Query_thread reports afterwards, and SINGLE turned a job's overlap off.
  int level = MPI_THREAD_SINGLE, provided = 0;
  MPI_Query_thread(&level);
  if (MPI_T_init_thread(level, &provided) != MPI_SUCCESS) return settings;
  int variables = 0;
  MPI_T_cvar_get_num(&variables);
  for (int i = 0; i < variables; ++i) {
    char name[256], description[8];
    int name_length = sizeof name, description_length = sizeof description, verbosity = 0, bind = 0, scope = 0;
    MPI_Datatype type;
    MPI_T_enum enumtype;
    if (MPI_T_cvar_get_info(i, name, &name_length, &verbosity, &type, &enumtype, description, &description_length,
                            &bind, &scope) != MPI_SUCCESS) {
      continue;
    }
    if (bind != MPI_T_BIND_NO_OBJECT || !chooses_collectives(name)) continue;
    std::string value;
    if (read_value(i, type, value)) settings[name] = value;
  }
  MPI_T_finalize();
  return settings;
}

}  // namespace spmd::launcher
