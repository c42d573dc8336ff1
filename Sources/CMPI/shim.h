// The system MPI library (Debian/Ubuntu: libopenmpi-dev, pkg-config ompi), for SNNMPI.
// MPI's handles and constants are macros (in Open MPI, addresses of library globals) that Swift
// cannot import; these inline functions give Swift their values.
#ifndef SNNKIT_CMPI_SHIM_H
#define SNNKIT_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype cmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype cmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype cmpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype cmpi_int(void) { return MPI_INT; }
static inline MPI_Op cmpi_sum(void) { return MPI_SUM; }
static inline int cmpi_success(void) { return MPI_SUCCESS; }
static inline int cmpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline void *cmpi_in_place(void) { return MPI_IN_PLACE; }
#endif
