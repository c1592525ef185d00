import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct Map: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print how a run spec's network maps onto crossbar arrays.",
            discussion: """
                Per weight layer: crossbar rows (fan-in), output columns, slices per weight, bit lines used, \
                arrays (tiles), devices and utilisation of the arrays' cells.

                Example: cimcarlo map runs/quickstart.toml
                """)

        @Argument(help: ArgumentHelp("Run spec (TOML).", valueName: "spec.toml"))
        var spec: String

        func run() throws {
            try reportingErrors {
                let runSpec = try RunSpec.load(path: spec)
                let (device, _) = try DeviceModel.load(path: runSpec.deviceModelPath)
                let network = try readingInputs(runSpec.modelPath) { try runSpec.loadNetwork() }
                let mapping = CrossbarMapping(
                    network: network, configuration: runSpec.mapping, cellBits: device.cellBits)
                let configuration = runSpec.mapping
                print(
                    "\(runSpec.modelPath) on \(device.name): \(configuration.weightBits == 0 ? "unquantised" : "\(configuration.weightBits)-bit") weights, "
                        + "\(device.cellBits)-bit cells, \(configuration.signEncoding.rawValue) signs, "
                        + "\(configuration.scale.rawValue) scale, \(configuration.arrayRows)×\(configuration.arrayColumns) arrays"
                )
                func cell(_ text: String, _ width: Int) -> String {
                    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
                }
                let nameWidth = max(8, (mapping.layers.map(\.name.count).max() ?? 0) + 1)
                let widths = [nameWidth, 7, 7, 7, 9, 7, 10, 12]
                print(
                    zip(["layer", "rows", "cols", "slices", "bitlines", "arrays", "devices", "utilization"], widths)
                        .map { cell($0, $1) }.joined(separator: " "))
                for layer in mapping.layers {
                    let values = [
                        layer.name, "\(layer.rows)", "\(layer.columns)", "\(layer.slices)", "\(layer.physicalColumns)",
                        "\(layer.arrays)", "\(layer.devices)", String(format: "%.1f %%", 100 * layer.utilization),
                    ]
                    print(zip(values, widths).map { cell($0, $1) }.joined(separator: " "))
                }
                let arrays = mapping.layers.reduce(0) { $0 + $1.arrays }
                let capacity = Double(arrays * configuration.arrayRows * configuration.arrayColumns)
                let values = [
                    "total", "", "", "", "", "\(arrays)", "\(mapping.deviceCount)",
                    String(format: "%.1f %%", 100 * Double(mapping.deviceCount) / max(capacity, 1)),
                ]
                print(zip(values, widths).map { cell($0, $1) }.joined(separator: " "))
                let digitalOnly = network.nodes.filter { !($0.operation is any CrossbarOperation) }.filter {
                    $0.operation is ActivationProduct
                }
                if !digitalOnly.isEmpty {
                    print(
                        "digital products of two activations (attention), not on crossbars: "
                            + digitalOnly.map(\.name).joined(separator: ", "))
                }
                if let note = mapping.batchNormalizationNote(specSetsIt: runSpec.batchNormalizationGiven) {
                    print(note)
                }
            }
        }
    }
}
