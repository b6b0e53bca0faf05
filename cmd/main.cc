// The stock worker's main: the projections registered by linking (PROJD_REGISTER_PROJECTION).
#include <projd/worker.h>

int main(int argc, char** argv) { return projd::RunWorker(argc, argv, projd::ProjectionRegistry::Linked()); }
