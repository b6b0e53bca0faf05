// Everything a projection needs: include <projd/projd.h>.
#pragma once

#include <projd/event.h>
#include <projd/projection.h>
#include <projd/registry.h>
#include <projd/sql_array.h>
#include <projd/transaction.h>
#include <projd/worker.h>
