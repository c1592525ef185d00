import CimCarloSupport

extension DeviceModel {
    /// Reads a device model file (`variation-models/*.toml`); see README, "Device model files".
    /// Unknown keys and out-of-range values are `ConfigurationError`s naming the file and key.
    public static func load(path: String) throws -> (model: DeviceModel, text: String) {
        let (reader, text) = try ConfigurationReader.load(path: path)
        return (try DeviceModel(reader: reader), text)
    }

    /// Parses a device model from TOML text; `file` names it in errors.
    public init(toml text: String, file: String) throws {
        try self.init(reader: ConfigurationReader(file: file, text: text))
    }

    init(reader: ConfigurationReader) throws {
        name = try reader.string("name")
        description = try reader.string("description", default: "")
        source = try reader.string("source")

        let conductance =
            try reader.table("conductance")
            ?? { throw reader.error("conductance", "is required (a table with g_min_us, g_max_us, cell_bits)") }()
        let minimumMicrosiemens = try conductance.double("g_min_us", in: 0...1e6, unit: "µS")
        let maximumMicrosiemens = try conductance.double("g_max_us", in: 1e-6...1e6, unit: "µS")
        guard maximumMicrosiemens > minimumMicrosiemens else {
            throw conductance.error("g_max_us", "must be greater than g_min_us (\(minimumMicrosiemens) µS)")
        }
        minimumConductance = minimumMicrosiemens * 1e-6
        maximumConductance = maximumMicrosiemens * 1e-6
        cellBits = try conductance.integer("cell_bits", default: 1, in: 1...8)
        try conductance.finish()

        let levels = 1 << cellBits
        deviceToDevice = try Variation.read(reader, "d2d", levels: levels)
        var outcome = ProgrammingOutcome.oneShot
        programming = try Variation.read(reader, "programming", levels: levels) { table in
            outcome = ProgrammingOutcome(
                rawValue: try table.string(
                    "describes", default: "one-shot", allowed: ["one-shot", "verified"]))!
        }
        programmingOutcome = outcome

        (stuckAtZeroRate, stuckAtOneRate) = try StuckAtFaults.rates(reader)
        drift = try Drift(reader)
        readNoise = try ReadNoise(reader, maximumMicrosiemens: maximumMicrosiemens)
        relaxation = try Relaxation(
            reader, levels: levels, rangeMicrosiemens: maximumMicrosiemens - minimumMicrosiemens)
        writeVerify = try WriteVerify(reader)
        irDrop = try IRDrop(reader)
        try reader.finish()
    }
}
