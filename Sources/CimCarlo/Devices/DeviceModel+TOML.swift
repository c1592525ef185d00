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
        deviceToDevice = try Self.variation(reader, "d2d", levels: levels)
        var outcome = ProgrammingOutcome.oneShot
        programming = try Self.variation(reader, "programming", levels: levels) { table in
            outcome = ProgrammingOutcome(
                rawValue: try table.string(
                    "describes", default: "one-shot", allowed: ["one-shot", "verified"]))!
        }
        programmingOutcome = outcome

        if let stuck = try reader.table("stuck_at") {
            stuckAtZeroRate = try stuck.double("sa0_rate", default: 0, in: 0...1, unit: "(fraction of devices)")
            stuckAtOneRate = try stuck.double("sa1_rate", default: 0, in: 0...1, unit: "(fraction of devices)")
            guard stuckAtZeroRate + stuckAtOneRate <= 1 else {
                throw stuck.error(
                    "sa1_rate", "sa0_rate + sa1_rate must be at most 1, got \(stuckAtZeroRate + stuckAtOneRate)")
            }
            try stuck.finish()
        } else {
            stuckAtZeroRate = 0
            stuckAtOneRate = 0
        }

        if let table = try reader.table("drift") {
            drift = Drift(
                referenceTimeSeconds: try table.double("t0_s", in: 1e-9...1e9, unit: "s"),
                exponentMean: try Self.conductanceFunction(table, "nu_mean", range: -1...1),
                exponentStd: try Self.conductanceFunction(table, "nu_std", range: 0...1),
                absoluteExponent: try table.bool("absolute", default: false))
            try table.finish()
        } else {
            drift = nil
        }

        if let table = try reader.table("read_noise") {
            var noise = ReadNoise(coefficient: 0)
            switch table.value("sigma") {
            case .table(let form):
                let q = table.reader(for: form, key: "sigma")
                if q.contains("log10_us") {
                    noise.sigma = .logarithmic(
                        microsiemensPerDecade: try q.double("log10_us", in: 0...1e3, unit: "µS"),
                        maximumMicrosiemens: maximumMicrosiemens)
                } else {
                    noise.sigma = .power(
                        coefficient: try q.double("coefficient", in: 0...10),
                        exponent: try q.double("exponent", default: 0, in: 0...10),
                        floor: try q.double("floor", default: 1e-3, in: 1e-12...1),
                        maximum: try q.double("max", default: 10, in: 0...10))
                }
                try q.finish()
            default:
                noise = ReadNoise(coefficient: try table.double("sigma", in: 0...10, unit: "(relative to G)"))
            }
            noise.oneOverF = try table.bool("one_over_f", default: false)
            noise.readTimeSeconds = try table.double("t_read_s", default: 250e-9, in: 1e-15...1, unit: "s")
            noise.timeOffsetSeconds = try table.double("t_offset_s", default: 0, in: 0...1e9, unit: "s")
            noise.resample = ReadNoise.Resample(
                rawValue: try table.string(
                    "resample", default: "per-chip", allowed: ReadNoise.Resample.allCases.map(\.rawValue)))!
            readNoise = noise
            try table.finish()
        } else {
            readNoise = nil
        }

        if let table = try reader.table("relaxation") {
            let reference = try table.string("reference", default: "range", allowed: ["range", "target"])
            var initial = Variation(reference: Variation.Reference(rawValue: reference)!)
            var perDecade = initial
            try Self.sigmaForms(table, prefix: "sigma0", levels: levels, into: &initial)
            try Self.sigmaForms(table, prefix: "per_decade", levels: levels, into: &perDecade)
            var relaxing = Relaxation(
                referenceTimeSeconds: try table.double("t0_s", in: 1e-9...1e9, unit: "s"),
                initial: initial, perDecade: perDecade)
            relaxing.shiftPerDecade =
                try table.double("shift_per_decade_us", default: 0, in: -1e3...1e3, unit: "µS")
                / (maximumMicrosiemens - minimumMicrosiemens)
            relaxation = relaxing
            try table.finish()
        } else {
            relaxation = nil
        }

        if let table = try reader.table("write_verify") {
            var verify = WriteVerify(
                tolerance: try table.double(
                    "tolerance", default: 0.01, in: 0...1, unit: "(units of the conductance range)"),
                maxIterations: try table.integer("max_iterations", default: 20, in: 1...10_000),
                pulseTimeSeconds: try table.double("pulse_time_s", default: 100e-9, in: 0...1, unit: "s"),
                energyPerPulseJoules: try table.optionalDouble("energy_per_pulse_j", in: 0...1, unit: "J"),
                model: WriteVerify.Model(
                    rawValue: try table.string(
                        "model", default: "redraw", allowed: WriteVerify.Model.allCases.map(\.rawValue)))!)
            let pulseKeys = [
                "set_pulses", "reset_pulses", "set_nonlinearity", "reset_nonlinearity", "step_sigma",
                "verify_read_sigma",
            ]
            if verify.model == .incremental {
                verify.response = PulseResponse(
                    setPulses: try table.integer("set_pulses", in: 1...100_000),
                    resetPulses: try table.integer("reset_pulses", in: 1...100_000),
                    setNonlinearity: try table.double("set_nonlinearity", default: 0, in: -9...9),
                    resetNonlinearity: try table.double("reset_nonlinearity", default: 0, in: -9...9),
                    stepSigma: try table.double("step_sigma", default: 0, in: 0...1, unit: "(units of the range)"))
                verify.verifyReadSigma = try table.optionalDouble(
                    "verify_read_sigma", in: 0...1, unit: "(relative to G)")
            } else if let key = pulseKeys.first(where: table.contains) {
                throw table.error(key, "belongs to model = \"incremental\" (this table's model is \"redraw\")")
            }
            writeVerify = verify
            try table.finish()
        } else {
            writeVerify = WriteVerify()
        }
        irDrop = try IRDrop(reader)
        try reader.finish()
    }

    /// The variation in table `key`; `extra` reads any further keys of the table before it is finished.
    private static func variation(
        _ reader: ConfigurationReader, _ key: String, levels: Int,
        extra: (ConfigurationReader) throws -> Void = { _ in }
    ) throws -> Variation {
        guard let table = try reader.table(key) else { return .none }
        var variation = Variation()
        variation.distribution = Variation.Distribution(
            rawValue: try table.string("distribution", default: "gaussian", allowed: ["gaussian", "lognormal"]))!
        variation.reference = Variation.Reference(
            rawValue: try table.string("reference", default: "range", allowed: ["range", "target"]))!
        if variation.distribution == .lognormal && variation.reference != .target {
            throw table.error(
                "reference", "must be \"target\" for a lognormal distribution (it scales the target conductance)")
        }
        try sigmaForms(table, prefix: "sigma", levels: levels, into: &variation)
        try extra(table)
        try table.finish()
        return variation
    }

    /// Reads one of `<prefix>`, `<prefix>_per_level`, `<prefix>_polynomial_us` into `variation`'s
    /// sigma forms (none of them: sigma 0).
    private static func sigmaForms(
        _ table: ConfigurationReader, prefix: String, levels: Int, into variation: inout Variation
    ) throws {
        let keys = [prefix, prefix + "_per_level", prefix + "_polynomial_us"]
        let forms = keys.filter { table.contains($0) }
        guard forms.count <= 1 else {
            throw table.error(forms[1], "give only one of \(keys.joined(separator: ", "))")
        }
        if let perLevel = try table.doubles(keys[1], in: 0...10, count: levels...levels) {
            variation.sigma = .perLevel(perLevel)
        } else if let polynomial = try table.doubles(keys[2], in: -1e6...1e6, unit: "µS", count: 1...8) {
            guard variation.reference == .range else {
                throw table.error(keys[2], "is absolute (µS), so reference must be \"range\"")
            }
            variation.sigma = .polynomial(polynomial.map { $0 * 1e-6 })
        } else {
            variation.sigma = .constant(try table.double(keys[0], default: 0, in: 0...10))
        }
    }

    private static func conductanceFunction(
        _ reader: ConfigurationReader, _ key: String,
        range: ClosedRange<Double>
    ) throws -> ConductanceFunction {
        if case let .table(form) = reader.value(key) {
            let table = reader.reader(for: form, key: key)
            let function = ConductanceFunction.clippedLog(
                slope: try table.double("log_slope", in: -10...10),
                intercept: try table.double("intercept", in: -10...10),
                minimum: try table.double("min", in: range),
                maximum: try table.double("max", in: range))
            if case let .clippedLog(_, _, minimum, maximum) = function, minimum > maximum {
                throw table.error("max", "must be at least min (\(minimum))")
            }
            try table.finish()
            return function
        }
        return .constant(try reader.double(key, in: range))
    }
}
