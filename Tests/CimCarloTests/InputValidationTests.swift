import CimCarlo
import Foundation
import Testing

/// Bad input, end to end: every case gets one line on stderr naming the file, the key and
/// what is allowed, and exit code 2 — never a crash or a Swift runtime message.
@Suite struct InputValidationTests {
    /// Which file a case edits, and how.
    enum Edit: Sendable {
        case spec(String, String)  // replace text in spec.toml
        case device(String, String)  // replace text in device.toml
        case topLevel(String)  // a line among the spec's top-level keys
        case appendSpec(String)  // a line at the end of spec.toml (inside [mapping])
        case appendDevice(String)
        case garbageModel
        case nanModel
        case mismatchedData
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var edit: Edit
        /// Expected text after "cimcarlo: error: <dir>/".
        var message: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "unknown top-level key", edit: .topLevel("instancs = 5"),
            message:
                "spec.toml: key `instancs`: unknown key (allowed here: model, input_mean, input_std, dataset, test_limit, device_model, instances"
        ),
        Case(
            name: "zero instances", edit: .spec("instances = 6", "instances = 0"),
            message: "spec.toml: key `instances`: must be an integer from 1 to 100000000, got 0"),
        Case(
            name: "instances as text", edit: .spec("instances = 6", "instances = \"ten\""),
            message: "spec.toml: key `instances`: must be an integer from 1 to 100000000, got a string"),
        Case(
            name: "negative seed", edit: .spec("seed = 5", "seed = -1"),
            message: "spec.toml: key `seed`: must be an integer from 0 to 9223372036854775807, got -1"),
        Case(
            name: "times not increasing", edit: .spec("times_s = [1.0, 3600.0, 86400.0]", "times_s = [10, 5]"),
            message: "spec.toml: key `times_s`: must be strictly increasing, but 5.0 follows 10.0"),
        Case(
            name: "negative time", edit: .spec("times_s = [1.0, 3600.0, 86400.0]", "times_s = [-1]"),
            message: "spec.toml: key `times_s`: must be from 0 to 10000000000 s, got -1"),
        Case(
            name: "threshold above 1", edit: .spec("accuracy_threshold = 0.2", "accuracy_threshold = 1.5"),
            message: "spec.toml: key `accuracy_threshold`: must be from 0 to 1 (fraction), got 1.5"),
        Case(
            name: "unknown policy", edit: .spec("policies = [\"none\", \"all\"]", "policies = [\"best\"]"),
            message:
                "spec.toml: key `policies`: unknown policy \"best\" (allowed: none, all, or KIND@FRACTION with KIND one of random, magnitude, gradient, swim, variance, FRACTION from 0 to 1)"
        ),
        Case(
            name: "budget above 1", edit: .spec("policies = [\"none\", \"all\"]", "policies = [\"swim@1.5\"]"),
            message: "spec.toml: key `policies`: unknown policy \"swim@1.5\""),
        Case(
            name: "budgeted kind without budget",
            edit: .spec("policies = [\"none\", \"all\"]", "policies = [\"swim\"]"),
            message: "spec.toml: key `policies`: \"swim\" needs a budget: write \"swim@0.1\" or give `budgets`"),
        Case(
            name: "budgets out of range",
            edit: .spec("policies = [\"none\", \"all\"]", "policies = [\"random\"]\nbudgets = [0.1, 2]"),
            message: "spec.toml: key `budgets`: must be from 0 to 1 (fraction of weights), got 2"),
        Case(
            name: "policy twice", edit: .spec("policies = [\"none\", \"all\"]", "policies = [\"none\", \"none\"]"),
            message: "spec.toml: key `policies`: lists \"none\" twice"),
        Case(
            name: "unknown selection", edit: .topLevel("selection = \"row\""),
            message: "spec.toml: key `selection`: must be one of \"global\", \"layer\", got \"row\""),
        Case(
            name: "weight bits out of range", edit: .spec("weight_bits = 6", "weight_bits = 40"),
            message: "spec.toml: key `mapping.weight_bits`: must be an integer from 0 to 16, got 40"),
        Case(
            name: "unknown sign encoding", edit: .spec("sign = \"differential\"", "sign = \"twos\""),
            message:
                "spec.toml: key `mapping.sign`: must be one of \"differential\", \"sign-magnitude\", \"offset\", got \"twos\""
        ),
        Case(
            name: "zero array rows", edit: .spec("array_rows = 16", "array_rows = 0"),
            message: "spec.toml: key `mapping.array_rows`: must be an integer from 1 to 65536, got 0"),
        Case(
            name: "unknown mapping key", edit: .appendSpec("colour = 1"),
            message:
                "spec.toml: key `mapping.colour`: unknown key (allowed here: weight_bits, sign, scale, array_rows, array_cols, batchnorm)"
        ),
        Case(
            name: "missing model file", edit: .spec("model = \"tiny.h5\"", "model = \"absent.h5\""),
            message: "absent.h5: cannot open it (no such file)"),
        Case(
            name: "missing device model",
            edit: .spec("device_model = \"device.toml\"", "device_model = \"absent.toml\""),
            message: "absent.toml: no such file"),
        Case(
            name: "missing dataset", edit: .spec("dataset = \"data.h5\"", "dataset = \"absent-data.h5\""),
            message: "absent-data.h5: cannot open it (no such file)"),
        Case(
            name: "zero test limit", edit: .topLevel("test_limit = 0"),
            message: "spec.toml: key `test_limit`: must be an integer from 1 to 100000000, got 0"),
        Case(
            name: "TOML syntax error", edit: .spec("instances = 6", "instances ="),
            message: "spec.toml: TOML syntax error at line 4: expected a value\n"),
        Case(
            name: "missing required key", edit: .spec("model = \"tiny.h5\"", ""),
            message: "spec.toml: key `model`: is required (a string)"),
        Case(
            name: "output not a string", edit: .spec("output = \"out/result.h5\"", "output = 5"),
            message: "spec.toml: key `output`: must be a string, got an integer"),
        Case(
            name: "negative sigma", edit: .device("[d2d]\nsigma = 0.05", "[d2d]\nsigma = -0.1"),
            message: "device.toml: key `d2d.sigma`: must be from 0 to 10, got -0.1"),
        Case(
            name: "stuck-at rate above 1", edit: .device("sa0_rate = 0.001", "sa0_rate = 1.5"),
            message: "device.toml: key `stuck_at.sa0_rate`: must be from 0 to 1 (fraction of devices), got 1.5"),
        Case(
            name: "stuck-at rates sum above 1",
            edit: .device("sa0_rate = 0.001\nsa1_rate = 0.001", "sa0_rate = 0.7\nsa1_rate = 0.6"),
            message:
                "device.toml: key `stuck_at.sa1_rate`: sa0_rate + sa1_rate must be at most 1, got 1.2999999999999998"),
        Case(
            name: "g_min above g_max", edit: .device("g_min_us = 1.0", "g_min_us = 30.0"),
            message: "device.toml: key `conductance.g_max_us`: must be greater than g_min_us (30.0 µS)"),
        Case(
            name: "cell bits out of range", edit: .device("cell_bits = 2", "cell_bits = 9"),
            message: "device.toml: key `conductance.cell_bits`: must be an integer from 1 to 8, got 9"),
        Case(
            name: "sigma per level of the wrong length",
            edit: .device("sigma_per_level = [0.02, 0.06, 0.06, 0.03]", "sigma_per_level = [0.1]"),
            message: "device.toml: key `programming.sigma_per_level`: must have 4 elements, has 1"),
        Case(
            name: "lognormal against the range",
            edit: .device("[d2d]\nsigma = 0.05", "[d2d]\ndistribution = \"lognormal\"\nsigma = 0.05"),
            message:
                "device.toml: key `d2d.reference`: must be \"target\" for a lognormal distribution (it scales the target conductance)"
        ),
        Case(
            name: "incomplete drift form", edit: .device("nu_mean = 0.02", "nu_mean = { log_slope = 1 }"),
            message: "device.toml: key `drift.nu_mean.intercept`: is required (from -10 to 10)"),
        Case(
            name: "zero verify iterations", edit: .device("max_iterations = 10", "max_iterations = 0"),
            message: "device.toml: key `write_verify.max_iterations`: must be an integer from 1 to 10000, got 0"),
        Case(
            name: "unknown device table", edit: .appendDevice("[noise]\nlevel = 1"),
            message: "device.toml: key `noise`: unknown key (allowed here: name, description, source, conductance"),
        Case(
            name: "read noise as text", edit: .device("[read_noise]\nsigma = 0.02", "[read_noise]\nsigma = \"high\""),
            message: "device.toml: key `read_noise.sigma`: must be a number from 0 to 10 (relative to G), got a string"),
        Case(
            name: "garbage model file", edit: .garbageModel,
            message: "tiny.h5: cannot open it as HDF5 (not an HDF5 file, or damaged)"),
        Case(
            name: "NaN weights", edit: .nanModel,
            message: "tiny.h5: /layers/08/weight holds NaN or infinite values"),
        Case(
            name: "dataset of the wrong shape", edit: .mismatchedData,
            message: "data.h5: images are [1, 3, 3] but the model expects [2, 12, 12]"),
    ]

    @Test(arguments: cases)
    func badInputIsOneLineAndExitCodeTwo(_ testCase: Case) throws {
        let directory = TemporaryDirectory()
        var extraSpec = ""
        if case let .topLevel(line) = testCase.edit { extraSpec = line }
        let fixture = try TinyStudyFixture(directory: directory, extraSpec: extraSpec)
        func edit(_ path: String, _ transform: (String) -> String) throws {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let changed = transform(text)
            #expect(changed != text, "the edit must change \(path)")
            try changed.write(toFile: path, atomically: true, encoding: .utf8)
        }
        switch testCase.edit {
        case let .spec(old, new): try edit(fixture.spec) { $0.replacingOccurrences(of: old, with: new) }
        case let .device(old, new): try edit(fixture.deviceModel) { $0.replacingOccurrences(of: old, with: new) }
        case .topLevel: break
        case let .appendSpec(line): try edit(fixture.spec) { $0 + "\n" + line + "\n" }
        case let .appendDevice(line): try edit(fixture.deviceModel) { $0 + "\n" + line + "\n" }
        case .garbageModel:
            try Data(repeating: 0x5A, count: 3000).write(to: URL(fileURLWithPath: fixture.model))
        case .nanModel:
            var network = fixture.network
            network.modifyParameters(ofNode: 8) { weight, _ in weight[0] = .nan }
            try network.save(to: fixture.model)
        case .mismatchedData:
            try writeHDF5Dataset(
                LabeledImages(
                    pixels: [Float](repeating: 0.5, count: 18), labels: [0, 1],
                    height: 3, width: 3, channels: 1), to: fixture.data)
        }
        let result = try runCimcarlo(["run", fixture.spec, "--quiet"])
        #expect(result.status == 2, "\(testCase.name): exit \(result.status), \(result.standardError)")
        let prefix = "cimcarlo: error: \(directory.path)/"
        #expect(result.standardError.hasPrefix(prefix + testCase.message), "\(testCase.name): \(result.standardError)")
        #expect(result.standardError.filter { $0 == "\n" }.count == 1, "one line: \(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("out/result.h5")), "no result written")
    }
}
