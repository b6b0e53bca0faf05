// The array literal builders (public: include/projd/sql_array.h), also under projd::pg for
// the stores.
#pragma once

#include <projd/sql_array.h>

namespace projd::pg {

using projd::AppendArrayElement;
using projd::IntArray;
using projd::NullableTextArray;
using projd::TextArray;

}  // namespace projd::pg
