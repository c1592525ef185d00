import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every node of a model, where it runs, and every problem at once.",
            discussion: """
                For an ONNX model: the IR version, opset and producer, its external data files, then one line \
                per node — op, output shape at batch 1, and where it runs: crossbar (a weight layer mapped onto \
                arrays), digital (computed exactly), folded at load (shape arithmetic, constants, biases, input \
                normalisation), not used, unsupported, or after a problem. Every unsupported node is listed with \
                what to do; the exit code is 2 when there is any. With --dataset, also checks that its images \
                fit the model.

                Example: cimcarlo check models/vit.onnx
                Example: cimcarlo check net.onnx --dataset cifar10.h5
                """)

        @Argument(help: ArgumentHelp("Model file: ONNX (.onnx) or HDF5 (cimcarlo model schema).", valueName: "model"))
        var model: String

        @Option(
            help: ArgumentHelp(
                "Also check that this dataset's images fit the model (as for `eval`).", valueName: "source"))
        var dataset: String?

        func run() throws {
            try reportingErrors {
                var problems: [String] = []
                let network: Network?
                if model.lowercased().hasSuffix(".onnx") {
                    let inspection = try ONNXImporter.inspect(path: model)
                    printInspection(inspection)
                    problems = inspection.problems.map(\.description)
                    network = inspection.network
                } else {
                    let loaded = try readingInputs(model) { try Network.load(from: model) }
                    printNetwork(loaded)
                    network = loaded
                }
                if let network, let dataset {
                    do {
                        let images = try readingInputs(dataset) { try DatasetSource(argument: dataset).load(.test) }
                        try images.checkFits(network, name: dataset)
                        print(
                            "dataset \(dataset): \(images.count) test images [\(images.channels), \(images.height), \(images.width)] fit the model"
                        )
                    } catch let error as CimCarloError {
                        problems.append(error.description)
                    }
                }
                guard !problems.isEmpty else { return }
                print("\(problems.count) problem\(problems.count == 1 ? "" : "s"):")
                for problem in problems { print("  " + problem) }
                print(
                    "cimcarlo runs these ONNX ops: \(ONNXImporter.supportedOps.joined(separator: ", ")); on constants only (shape arithmetic): \(ONNXImporter.foldedOnly.joined(separator: ", "))."
                )
                throw failure(
                    "\(model): \(problems.count) problem\(problems.count == 1 ? "" : "s") (listed above)",
                    code: ExitStatus.badInput)
            }
        }

        private func table(_ rows: [[String]]) {
            let widths = rows.reduce(into: [Int](repeating: 0, count: rows[0].count)) { widths, row in
                for (index, text) in row.enumerated() { widths[index] = max(widths[index], text.count) }
            }
            for row in rows {
                print(
                    zip(row, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  ")
                        .trimmingCharacters(in: .whitespaces))
            }
        }

        private func printInspection(_ inspection: ONNXInspection) {
            print(
                "\(inspection.path): ONNX IR \(inspection.irVersion), opset \(inspection.opset)"
                    + (inspection.producer.isEmpty ? "" : ", made by \(inspection.producer)"))
            print(
                "external data: "
                    + (inspection.externalDataFiles.isEmpty
                        ? "none" : inspection.externalDataFiles.joined(separator: ", ") + " (beside the model)"))
            var rows = [["node", "op", "output", "runs"]]
            for node in inspection.nodes {
                let shape = node.outputDimensions.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" } ?? "?"
                rows.append([node.name, node.opType, shape, node.placement.rawValue])
            }
            table(rows)
            let counts = Dictionary(grouping: inspection.nodes, by: \.placement).mapValues(\.count)
            print(
                "\(inspection.nodes.count) nodes: "
                    + [ONNXPlacement.crossbar, .digital, .folded, .unused, .unsupported, .skipped].compactMap {
                        placement in
                        counts[placement].map { "\($0) \(placement.rawValue)" }
                    }.joined(separator: ", "))
            if let network = inspection.network {
                let weights = network.nodes.compactMap { $0.operation as? any CrossbarOperation }.reduce(0) {
                    $0 + $1.weight.count
                }
                print(
                    "input \(network.inputShape) per sample (the batch is read as 1); \(weights) weights on crossbars; \(network.classCount) classes"
                )
                if network.nodes.contains(where: { $0.operation is Softmax })
                    && network.scoredNodeCount < network.nodes.count
                {
                    print(
                        "ends in a softmax: accuracy from its argmax, loss from the scores before it (the model's log-likelihood)"
                    )
                }
            }
            let hasConvolutions = inspection.nodes.contains { $0.opType == "Conv" }
            if inspection.batchNormalizationNodes == 0, hasConvolutions {
                print("batch normalisation: " + CrossbarMapping.exporterFoldedBatchNormalization)
            } else if inspection.batchNormalizationNodes > 0 {
                print(
                    "batch normalisation: \(inspection.batchNormalizationNodes) node(s) kept; a run spec's [mapping] batchnorm = \"digital\" computes them exactly, \"fold\" folds them into the weights"
                )
            }
        }

        private func printNetwork(_ network: Network) {
            print("\(model): cimcarlo model file, input \(network.inputShape) per sample")
            let shapes = (try? network.activationShapes()) ?? []
            var rows = [["node", "kind", "output", "runs"]]
            for (index, node) in network.nodes.enumerated() {
                rows.append([
                    node.name, node.operation.kind, index + 1 < shapes.count ? shapes[index + 1].description : "?",
                    node.operation is any CrossbarOperation ? "crossbar" : "digital",
                ])
            }
            table(rows)
        }
    }
}
