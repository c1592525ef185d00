import CimCarlo
import Foundation
import Testing

@testable import CimCarloONNX

/// Bounded fuzzing of the parsers: mutated run specs, device models, IDX files, and HDF5
/// model and dataset files must parse or fail with cimcarlo's own typed error — never crash.
/// The iteration count is `CIMCARLO_FUZZ_ITERATIONS` (default 200 per target; a longer
/// campaign: `CIMCARLO_FUZZ_ITERATIONS=20000 swift test --filter FuzzTests`).
@Suite struct FuzzTests {
    static let iterations = Int(ProcessInfo.processInfo.environment["CIMCARLO_FUZZ_ITERATIONS"] ?? "") ?? 200

    /// Applies one to four random edits: flip, insert, delete, duplicate or splice bytes.
    static func mutate(_ input: [UInt8], using generator: inout SplitMix64, alphabet: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0..<(1 + Int(generator.next() % 4)) {
            let position = bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count))
            switch generator.next() % 5 {
            case 0 where !bytes.isEmpty:
                bytes[position] ^= UInt8(1 << (generator.next() % 8))
            case 1:
                bytes.insert(alphabet[Int(generator.next() % UInt64(alphabet.count))], at: position)
            case 2 where !bytes.isEmpty:
                let length = min(bytes.count - position, 1 + Int(generator.next() % 16))
                bytes.removeSubrange(position..<(position + length))
            case 3 where !bytes.isEmpty:
                let length = min(bytes.count - position, 1 + Int(generator.next() % 32))
                bytes.insert(contentsOf: bytes[position..<(position + length)], at: position)
            default:
                if !bytes.isEmpty { bytes[position] = UInt8(truncatingIfNeeded: generator.next()) }
            }
        }
        return bytes
    }

    static let tomlAlphabet = Array("=[]{}\"'.,#\n -_0123456789eEabcxyz@+\\".utf8)

    @Test func runSpecAndDeviceModelParsersNeverCrash() throws {
        let directory = TemporaryDirectory()
        let fixture = try TinyStudyFixture(directory: directory)
        let seeds = [
            try String(contentsOfFile: fixture.spec, encoding: .utf8),
            try String(contentsOfFile: repositoryRoot + "/runs/swim-study.toml", encoding: .utf8),
        ]
        let devices =
            try ["pcm-aihwkit", "rram-hfo2", "swim-dac22", "rram-neurram", "reram-cmo-hfox"].map {
                try String(contentsOfFile: repositoryRoot + "/variation-models/\($0).toml", encoding: .utf8)
            } + [try String(contentsOfFile: fixture.deviceModel, encoding: .utf8)]
        var generator = SplitMix64(seed: 101)
        var accepted = 0
        for iteration in 0..<Self.iterations {
            let specText = String(
                decoding: Self.mutate(
                    Array(seeds[iteration % 2].utf8), using: &generator,
                    alphabet: Self.tomlAlphabet), as: UTF8.self)
            do {
                _ = try RunSpec(toml: specText, path: directory.file("spec.toml"))
                accepted += 1
            } catch is ConfigurationError {}
            let deviceText = String(
                decoding: Self.mutate(
                    Array(devices[iteration % devices.count].utf8), using: &generator,
                    alphabet: Self.tomlAlphabet), as: UTF8.self)
            do {
                _ = try DeviceModel(toml: deviceText, file: "device.toml")
                accepted += 1
            } catch is ConfigurationError {}
        }
        // Some mutations (inside comments, say) keep the file valid; most do not.
        #expect(accepted > 0 && accepted < 2 * Self.iterations)
    }

    @Test func idxParserNeverCrashes() {
        var generator = SplitMix64(seed: 202)
        let valid = IDXFile(dimensions: [3, 4, 5], bytes: (0..<60).map { UInt8($0) }).serialized()
        let alphabet: [UInt8] = [0, 1, 3, 8, 0x0D, 0xFF, 0x7F]
        var accepted = 0
        for _ in 0..<(Self.iterations * 5) {
            do {
                _ = try IDXFile(parsing: Self.mutate(valid, using: &generator, alphabet: alphabet), path: "fuzz.idx")
                accepted += 1
            } catch is DatasetError {} catch {
                Issue.record("unexpected error type: \(error)")
            }
        }
        #expect(accepted > 0)
    }

    /// libhdf5 itself can loop forever on some damaged files (seen here: a corrupted global
    /// heap behind a variable-length string), so the HDF5 targets run in the built binary,
    /// whose input watchdog turns a hang into an error; a crash would show as a signal.
    @Test func hdf5ModelAndDatasetReadersNeverCrash() throws {
        let directory = TemporaryDirectory()
        let fixture = try TinyStudyFixture(directory: directory)
        let model = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture.model)))
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture.data)))
        var generator = SplitMix64(seed: 303)
        let alphabet: [UInt8] = [0, 1, 2, 0xFF, 0x7F, 0x80]
        let runs = max(20, Self.iterations / 2)
        var outcomes: [Int32: Int] = [:]
        for iteration in 0..<runs {
            let fuzzModel = iteration % 2 == 0
            let path = directory.file(fuzzModel ? "fuzzed-model.h5" : "fuzzed-data.h5")
            try Data(Self.mutate(fuzzModel ? model : data, using: &generator, alphabet: alphabet))
                .write(to: URL(fileURLWithPath: path))
            let result = try runCimcarlo(
                ["eval", "--model", fuzzModel ? path : fixture.model, "--dataset", fuzzModel ? fixture.data : path],
                environment: ["CIMCARLO_INPUT_TIMEOUT_S": "3"])
            outcomes[result.status, default: 0] += 1
            #expect([0, 1, 2].contains(result.status), "exit \(result.status): \(result.standardError)")
            if result.status != 0 {
                #expect(
                    result.standardError.hasPrefix("cimcarlo: error: ")
                        && result.standardError.filter { $0 == "\n" }.count == 1,
                    "\(result.standardError)")
            }
        }
        // Mutations both break files (errors) and leave some readable (mostly in raw data).
        #expect(outcomes[2, default: 0] > 0, "\(outcomes)")
    }

    /// ONNX models — the reference cases (torch's shapes: attention, channel shuffle, external
    /// data, shape arithmetic) mutated byte by byte and graph by graph (an output written twice,
    /// an input rewired to a later node, a dimension set to 0, −1 or 2⁴⁰) — import or give
    /// cimcarlo's own error; never a crash.
    @Test func onnxImporterNeverCrashes() throws {
        let directory = try onnxCaseDirectory.get()
        let seeds = ["conv_basic", "vit_opset13", "channel_shuffle_opset11", "shape_ops_opset15", "se_silu_opset13"]
        var generator = SplitMix64(seed: 404)
        let alphabet: [UInt8] = [0, 1, 2, 8, 0x12, 0x1A, 0x22, 0xFF, 0x7F, 0x80]
        let scratch = TemporaryDirectory()
        var outcomes = (imported: 0, refused: 0)
        func attempt(_ bytes: [UInt8]) throws {
            let path = scratch.file("fuzzed.onnx")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let inspection = try ONNXImporter.inspect(path: path)
                if inspection.network != nil { outcomes.imported += 1 } else { outcomes.refused += 1 }
            } catch is ONNXImportError {
                outcomes.refused += 1
            } catch {
                Issue.record("unexpected error type: \(error)")
            }
        }
        for iteration in 0..<Self.iterations {
            let valid = try [UInt8](
                Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(seeds[iteration % seeds.count]).onnx")))
            try attempt(Self.mutate(valid, using: &generator, alphabet: alphabet))
            var model = try Onnx_ModelProto(serializedBytes: Data(valid))
            let nodes = model.graph.node.count
            let first = Int(generator.next() % UInt64(nodes))
            let second = Int(generator.next() % UInt64(nodes))
            switch generator.next() % 4 {
            case 0 where !model.graph.node[second].output.isEmpty:
                model.graph.node[first].output[0] = model.graph.node[second].output[0]
            case 1 where !model.graph.node[first].input.isEmpty && !model.graph.node[second].output.isEmpty:
                model.graph.node[first].input[0] = model.graph.node[second].output[0]
            case 2 where !model.graph.initializer.isEmpty:
                let index = Int(generator.next() % UInt64(model.graph.initializer.count))
                if !model.graph.initializer[index].dims.isEmpty {
                    model.graph.initializer[index].dims[0] = [0, -1, 1 << 40][Int(generator.next() % 3)]
                }
            default:
                var dimension = Onnx_TensorShapeProto.Dimension()
                dimension.dimValue = [0, -1, 1 << 40][Int(generator.next() % 3)]
                let dims = model.graph.input[0].type.tensorType.shape.dim.count
                model.graph.input[0].type.tensorType.shape.dim[Int(generator.next() % UInt64(dims))] = dimension
            }
            try attempt([UInt8](try model.serializedData()))
        }
        #expect(outcomes.imported > 0 && outcomes.refused > 0, "\(outcomes)")
    }
}
