#pragma once
// Reading a whole file into memory, with errors that name the file.

#include <string>

namespace fmala::io {

// Returns the bytes of `path`. `kind` names the file in errors ("table",
// "NPY file"): "<path>: cannot open the <kind>: <reason>. Check the path".
std::string read_whole_file(const std::string& path, const std::string& kind);

}  // namespace fmala::io
