import CimCarloNetwork
import Foundation

/// One weight layer (a convolution or dense node) laid out on crossbar arrays.
///
/// The layer's weight matrix `W` (`[columns, rows]`: outputs × fan-in, conv2d through its
/// im2col form) is stored transposed on the arrays: inputs drive the `rows` word lines,
/// each output occupies `slices × sides` bit lines. A grouped convolution is `groups`
/// matrices of `columns / groups` outputs each, every group on arrays of its own. Devices are stored weight by weight
/// (PyTorch order), `devicesPerWeight` each, slice-major then side (+, −); with the offset
/// encoding the reference-column devices follow, per (column tile, row, slice).
public struct LayerMapping: Sendable {
    /// The node of the network this layer maps.
    public let nodeIndex: Int
    public let name: String
    /// Fan-in: crossbar rows used (inputs, or (inC / groups)·kH·kW for conv2d).
    public let rows: Int
    /// Outputs (neurons or channels), all groups.
    public let columns: Int
    /// Independent matrices (convolution groups), each on its own arrays.
    public let groups: Int
    public let slices: Int
    public let devicesPerWeight: Int
    /// Bit lines used: `columns × devicesPerWeight`, plus the reference columns.
    public let physicalColumns: Int
    /// Arrays (tiles) needed: `ceil(rows / arrayRows) × column tiles`.
    public let arrays: Int
    /// Devices programmed, `rows × physicalColumns`.
    public let devices: Int
    /// Fraction of the arrays' cells in use.
    public let utilization: Double
    /// The layer's weights as mapped, `[columns, rows]` (column-major: weight `column · rows + row`).
    public let weights: [Float]
    /// The quantisation scale `s` of each output column (`max|W|` of the layer or of the column).
    public let columnScales: [Float]
    /// `L = 2^weightBits − 1` (0: unquantised).
    public let quantisationLevels: Int
    public let cellBits: Int
    public let signEncoding: MappingConfiguration.SignEncoding
    /// Offset encoding: the level of each slice's reference device.
    public let referenceLevels: [Float]
    /// Offset encoding: outputs per column tile (each tile has its own reference columns;
    /// tiles do not straddle groups).
    public let columnsPerTile: Int
    /// Offset encoding: weight of each slice's reference device, `B^j (B − 1)` (2 unquantised).
    public let referenceSliceWeights: [Float]
    /// Offset encoding: `s / L` per output column (`s` unquantised), scaling the reference.
    public let referenceColumnScales: [Float]

    public var weightCount: Int { rows * columns }
    /// Devices of the weights themselves (the reference columns follow them in `targets`).
    public var weightDeviceCount: Int { weightCount * devicesPerWeight }
    public var hasReference: Bool { !referenceSliceWeights.isEmpty }

    /// Normalised target conductance of each device, `(G − g_min) / (g_max − g_min)` in [0, 1]:
    /// the weights' devices, then the reference columns' (offset encoding only). Made on
    /// request (`devices` floats); simulation encodes a few weights at a time (`encode`).
    public var targets: [Float] { encodedDevices().targets }

    /// Effective weight contributed per unit of normalised conductance of each weight device:
    /// `w_eff = Σ_d coefficient[d] · x[d]` over the weight's devices (minus the reference).
    public var coefficients: [Float] { encodedDevices().coefficients }

    /// Every device's target (reference devices included) and every weight device's coefficient.
    private func encodedDevices() -> (targets: [Float], coefficients: [Float]) {
        var targets = [Float](repeating: 0, count: devices)
        var coefficients = [Float](repeating: 0, count: weightDeviceCount)
        targets.withUnsafeMutableBufferPointer { targets in
            coefficients.withUnsafeMutableBufferPointer { coefficients in
                encode(weights: 0..<weightCount, targets: targets.baseAddress!, coefficients: coefficients.baseAddress!)
            }
            for index in weightDeviceCount..<devices { targets[index] = referenceTarget(index) }
        }
        return (targets, coefficients)
    }

    /// Writes `w_eff = Σ coefficient · x` for weights `weights` into `output[weights]`, from their
    /// devices' levels and coefficients (`levels[0]` and `coefficients[0]` belong to the range's
    /// first weight); with the offset encoding, minus `(s / L) · Σ_j B^j (B − 1) x_ref,j` of the
    /// weight's row in its array's reference column, from the layer's reference levels
    /// (`references[0]` is reference device `weightDeviceCount`).
    public func fold(
        weights: Range<Int>, levels: UnsafePointer<Float>, coefficients: UnsafePointer<Float>,
        references: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>
    ) {
        for weightIndex in weights {
            var sum: Float = 0
            let first = (weightIndex - weights.lowerBound) * devicesPerWeight
            for device in first..<(first + devicesPerWeight) { sum += coefficients[device] * levels[device] }
            output[weightIndex] = sum
        }
        guard hasReference else { return }
        for weightIndex in weights {
            let (column, row) = weightIndex.quotientAndRemainder(dividingBy: rows)
            let first = (referenceTile(ofColumn: column) * rows + row) * slices
            var reference: Float = 0
            for slice in 0..<slices { reference += referenceSliceWeights[slice] * references[first + slice] }
            output[weightIndex] -= referenceColumnScales[column] * reference
        }
    }

    /// The target of reference device `device` (`weightDeviceCount ≤ device < devices`).
    @inline(__always)
    public func referenceTarget(_ device: Int) -> Float {
        referenceLevels[(device - weightDeviceCount) % slices]
    }

    /// Writes the targets and fold coefficients of the devices of weights `range` to
    /// `targets[0 ..< range.count · devicesPerWeight]` and `coefficients` (see
    /// `CrossbarMapping.init` for the encoding).
    public func encode(
        weights range: Range<Int>, targets: UnsafeMutablePointer<Float>, coefficients: UnsafeMutablePointer<Float>
    ) {
        let base = 1 << cellBits
        let levelMax = Float(base - 1)
        let offsetEncoding = signEncoding == .offset
        weights.withUnsafeBufferPointer { weights in
            for weightIndex in range {
                let scale = columnScales[weightIndex / rows]
                let value = weights[weightIndex]
                let sign: Float = value < 0 ? -1 : 1
                let first = (weightIndex - range.lowerBound) * devicesPerWeight
                let magnitude = scale > 0 ? min(abs(value) / scale, 1) : 0
                let q = Int((magnitude * Float(quantisationLevels)).rounded())
                for slice in 0..<slices {
                    let level: Float
                    let coefficient: Float
                    if quantisationLevels == 0 {
                        level = offsetEncoding ? (sign * magnitude + 1) / 2 : magnitude
                        coefficient = offsetEncoding ? 2 * scale : scale
                    } else {
                        let stored = offsetEncoding ? Int(sign) * q + quantisationLevels : q
                        let digit = (stored >> (cellBits * slice)) & (base - 1)
                        level = Float(digit) / levelMax
                        coefficient = scale / Float(quantisationLevels) * Float(1 << (cellBits * slice)) * levelMax
                    }
                    switch signEncoding {
                    case .differential:
                        let positive = first + slice * 2
                        targets[positive] = sign > 0 ? level : 0
                        targets[positive + 1] = sign > 0 ? 0 : level
                        coefficients[positive] = coefficient
                        coefficients[positive + 1] = -coefficient
                    case .signMagnitude:
                        targets[first + slice] = level
                        coefficients[first + slice] = sign * coefficient
                    case .offset:
                        targets[first + slice] = level
                        coefficients[first + slice] = coefficient
                    }
                }
            }
        }
    }

    /// Offset encoding: the column tile (and so the reference columns) of output `column`.
    public func referenceTile(ofColumn column: Int) -> Int {
        let perGroup = columns / groups
        let tilesPerGroup = (perGroup + columnsPerTile - 1) / columnsPerTile
        return column / perGroup * tilesPerGroup + column % perGroup / columnsPerTile
    }
}

/// The mapping of a whole network, and the fold from device conductances back to weights.
public struct CrossbarMapping: Sendable {
    public let configuration: MappingConfiguration
    public let cellBits: Int
    public let layers: [LayerMapping]
    /// Batch normalisations the network still computes digitally (names); with
    /// `batchnorm = "fold"` these are the ones that follow no single-reader weight node.
    public let digitalBatchNormalizations: [String]

    /// Quantises and slices every crossbar node of `network` (see `MappingConfiguration`).
    ///
    /// Magnitudes are quantised symmetrically to `L = 2^weightBits − 1` levels of the scale
    /// `s` (`max|W|` per layer or per column): `q = round(|w| / s · L)`, then written in base
    /// `B = 2^cellBits`, digit `j` on slice `j` as the level `x = d_j / (B − 1)`. The fold
    /// inverts this: `w = ±(s / L) · Σ_j B^j (B − 1) x_j`. Unquantised: `x = |w| / s`, `w = ±s·x`.
    public init(network: Network, configuration: MappingConfiguration, cellBits: Int) {
        self.configuration = configuration
        self.cellBits = cellBits
        var layers: [LayerMapping] = []
        for index in network.weightNodeIndices {
            let operation = network.crossbarOperation(ofNode: index)!
            layers.append(
                Self.mapLayer(
                    index: index, name: network.nodes[index].name, weight: operation.weight,
                    columns: operation.outputCount, groups: operation.groups,
                    configuration: configuration, cellBits: cellBits))
        }
        self.layers = layers
        digitalBatchNormalizations = network.nodes.filter { $0.operation is BatchNormalization }.map(\.name)
    }

    /// What to say when a network has no batch normalisation to place: PyTorch's exporters fold
    /// it into the preceding convolutions in eval mode, so `batchnorm` has nothing to do.
    public static let exporterFoldedBatchNormalization =
        "the model has no BatchNormalization nodes (PyTorch's exporters fold them into the convolutions in eval mode), so `batchnorm` changes nothing; to keep batch normalisation digital, export with torch.onnx.export(..., dynamo=False, training=torch.onnx.TrainingMode.PRESERVE)"

    /// One line on where batch normalisation is computed, nil when the network has none left
    /// digital and none was to be folded — unless the spec asked for a placement
    /// (`specSetsIt`), which a network without batch normalisation cannot honour.
    public func batchNormalizationNote(specSetsIt: Bool = false) -> String? {
        switch (configuration.batchNormalization, digitalBatchNormalizations.count) {
        case (.digital, 0): return specSetsIt ? "batch normalisation: " + Self.exporterFoldedBatchNormalization : nil
        case (.digital, let count):
            return "batch normalisation: \(count) node(s) computed digitally, exactly as trained"
        case (.fold, 0): return "batch normalisation: folded into the preceding weights before quantisation"
        case (.fold, let count):
            return "batch normalisation: folded where it follows a weight layer; \(count) node(s) stay digital ("
                + digitalBatchNormalizations.joined(separator: ", ") + ")"
        }
    }

    private static func mapLayer(
        index: Int, name: String, weight: [Float], columns: Int, groups: Int,
        configuration: MappingConfiguration, cellBits: Int
    ) -> LayerMapping {
        let rows = weight.count / columns
        let slices = configuration.slices(cellBits: cellBits)
        let sides = configuration.sides
        let devicesPerWeight = slices * sides
        let base = 1 << cellBits
        let levelMax = Float(base - 1)
        let quantisationLevels = configuration.weightBits == 0 ? 0 : (1 << configuration.weightBits) - 1

        var scales = [Float](repeating: 0, count: columns)
        switch configuration.scale {
        case .layer:
            let layerMax = weight.reduce(0) { max($0, abs($1)) }
            for column in 0..<columns { scales[column] = layerMax }
        case .column:
            for column in 0..<columns {
                scales[column] = weight[(column * rows)..<((column + 1) * rows)].reduce(0) { max($0, abs($1)) }
            }
        }

        let offsetEncoding = configuration.signEncoding == .offset
        let columnsPerGroup = columns / groups
        let columnsPerTile =
            offsetEncoding
            ? min(columnsPerGroup, max(1, (configuration.arrayColumns - slices) / slices)) : columnsPerGroup
        let columnTiles = groups * ((columnsPerGroup + columnsPerTile - 1) / columnsPerTile)
        // Offset encoding stores u = q + L (unquantised: (w/s + 1) / 2); its reference is L (½).
        var referenceLevels = [Float](repeating: 0, count: offsetEncoding ? slices : 0)
        var referenceSliceWeights: [Float] = []
        if offsetEncoding {
            for slice in 0..<slices {
                referenceLevels[slice] =
                    quantisationLevels == 0
                    ? 0.5
                    : Float((quantisationLevels >> (cellBits * slice)) & (base - 1)) / levelMax
                referenceSliceWeights.append(quantisationLevels == 0 ? 2 : Float(1 << (cellBits * slice)) * levelMax)
            }
        }
        let referenceColumnScales: [Float] =
            offsetEncoding
            ? scales.map { quantisationLevels == 0 ? $0 : $0 / Float(quantisationLevels) } : []
        let physicalColumns = columns * devicesPerWeight + (offsetEncoding ? columnTiles * slices : 0)
        let rowTiles = (rows + configuration.arrayRows - 1) / configuration.arrayRows
        let groupPhysicalColumns = columnsPerGroup * devicesPerWeight
        let arrays =
            rowTiles
            * (offsetEncoding
                ? columnTiles
                : groups * ((groupPhysicalColumns + configuration.arrayColumns - 1) / configuration.arrayColumns))
        let devices = rows * physicalColumns
        return LayerMapping(
            nodeIndex: index, name: name, rows: rows, columns: columns, groups: groups, slices: slices,
            devicesPerWeight: devicesPerWeight, physicalColumns: physicalColumns, arrays: arrays, devices: devices,
            utilization: Double(devices) / Double(arrays * configuration.arrayRows * configuration.arrayColumns),
            weights: weight, columnScales: scales, quantisationLevels: quantisationLevels, cellBits: cellBits,
            signEncoding: configuration.signEncoding, referenceLevels: referenceLevels, columnsPerTile: columnsPerTile,
            referenceSliceWeights: referenceSliceWeights, referenceColumnScales: referenceColumnScales)
    }

    /// Total devices over all layers.
    public var deviceCount: Int { layers.reduce(0) { $0 + $1.devices } }
    /// Total weights mapped.
    public var weightCount: Int { layers.reduce(0) { $0 + $1.weightCount } }

    /// The mapped layer index of each of `network`'s nodes (nil for nodes without crossbar weights).
    package func mappedLayerIndices(of network: Network) -> [Int?] {
        var mapped = [Int?](repeating: nil, count: network.nodes.count)
        for (index, layer) in layers.enumerated() { mapped[layer.nodeIndex] = index }
        return mapped
    }

    /// Per mapped layer, the rows of its matrix product at `batchCapacity` samples (one per
    /// sample and output pixel).
    func productRows(of network: Network, batchCapacity: Int) throws -> [Int] {
        let shapes = try network.activationShapes()
        return layers.map { batchCapacity * shapes[$0.nodeIndex + 1].pixels }
    }

    /// Writes `w_eff = Σ coefficient · x` for every weight of `layer` into `weights`; with the
    /// offset encoding, minus `(s / L) · Σ_j B^j (B − 1) x_ref,j` of the weight's row in its
    /// array's reference column.
    public static func fold(
        _ layer: LayerMapping, conductances: UnsafeBufferPointer<Float>,
        into weights: UnsafeMutableBufferPointer<Float>
    ) {
        layer.coefficients.withUnsafeBufferPointer { coefficients in
            layer.fold(
                weights: 0..<layer.weightCount, levels: conductances.baseAddress!,
                coefficients: coefficients.baseAddress!,
                references: conductances.baseAddress! + layer.weightDeviceCount,
                into: weights.baseAddress!)
        }
    }

    /// The network with every mapped weight replaced by its noise-free quantised value (the
    /// fold of the targets) — what an `ideal` device model computes on every instance.
    public func quantizedNetwork(_ network: Network) -> Network {
        var result = network
        for layer in layers {
            result.modifyParameters(ofNode: layer.nodeIndex) { weight, _ in
                layer.targets.withUnsafeBufferPointer { targets in
                    weight.withUnsafeMutableBufferPointer { weights in
                        Self.fold(layer, conductances: targets, into: weights)
                    }
                }
            }
        }
        return result
    }
}
