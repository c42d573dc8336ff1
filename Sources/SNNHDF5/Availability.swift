/// Whether this build of SNNHDF5 can read HDF5 files.
///
/// The HDF5 readers (``SHDDataset``, ``HDF5File``) exist only when the package is built with the
/// `HDF5` trait (`swift build --traits HDF5`, which needs the system libhdf5: Debian/Ubuntu
/// `apt-get install libhdf5-dev`). Without the trait this module is empty but for this flag, so
/// the default build never needs libhdf5.
public enum SNNHDF5Build {
    #if HDF5
    public static let hdf5Available = true
    #else
    public static let hdf5Available = false
    #endif
}
