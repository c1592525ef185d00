import CimCarloNetwork

extension Network {
    /// Reads and checks a model file: an ONNX graph (`.onnx`), or else a cimcarlo model (HDF5).
    public static func load(from path: String) throws -> Network {
        if path.lowercased().hasSuffix(".onnx") { return try ONNXImporter.load(path: path) }
        return try loadHDF5(from: path)
    }

    /// The free-form string attributes of a model file (provenance such as the training
    /// command): an ONNX graph's metadata, or a cimcarlo model's attributes.
    public static func provenance(of path: String) throws -> [String: String] {
        if path.lowercased().hasSuffix(".onnx") { return try ONNXImporter.metadata(path: path) }
        return try hdf5Provenance(of: path)
    }
}
