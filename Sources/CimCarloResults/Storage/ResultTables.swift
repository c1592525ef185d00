import CimCarloCrossbar
import CimCarloNetwork
import CimCarloSimulation
import CimCarloSupport
import Foundation

/// The per-layer tables a result file carries besides its per-instance results: the mapping
/// report (`/mapping`), the weights each budgeted policy write-verifies (`/selection`) and the
/// scores they were ranked by (`/sensitivity`). A study builds them from its network; `merge`
/// reads them back from a shard, so a merged file is written by the same code as a single run.
public struct ResultTables: Sendable, Equatable {
    /// One row per mapped layer.
    public struct MappingRow: Sendable, Equatable {
        public var name: String
        public var rows: Int
        public var columns: Int
        public var slices: Int
        public var physicalColumns: Int
        public var arrays: Int
        public var devices: Int
        public var utilization: Double
    }

    public var mapping: [MappingRow]
    public var weightBits: Int
    public var cellBits: Int
    public var sign: String
    public var scale: String
    public var arrayRows: Int
    public var arrayColumns: Int
    public var batchNormalization: String
    /// Batch normalisations computed digitally (not folded into a crossbar layer).
    public var digitalBatchNormalizations: [String]
    /// Per budgeted policy (by label), per layer: 1 where the weight is write-verified, in the
    /// layer's weight shape.
    public var selections: [(policy: String, layers: [ShapedArray<UInt8>])]
    /// The score sensitivity-based policies ranked by, per layer, and its formula.
    public var sensitivity: (formula: String, layers: [ShapedArray<Float>])?

    public static func == (lhs: ResultTables, rhs: ResultTables) -> Bool {
        lhs.mapping == rhs.mapping && lhs.weightBits == rhs.weightBits && lhs.cellBits == rhs.cellBits
            && lhs.sign == rhs.sign && lhs.scale == rhs.scale && lhs.arrayRows == rhs.arrayRows
            && lhs.arrayColumns == rhs.arrayColumns && lhs.batchNormalization == rhs.batchNormalization
            && lhs.digitalBatchNormalizations == rhs.digitalBatchNormalizations
            && lhs.selections.elementsEqual(rhs.selections) { $0.policy == $1.policy && $0.layers == $1.layers }
            && lhs.sensitivity?.formula == rhs.sensitivity?.formula
            && lhs.sensitivity?.layers == rhs.sensitivity?.layers
    }

    /// The tables of a study: `policies` with their selections made, and the sensitivity
    /// scores when a policy ranked by them.
    public init(
        mapping: CrossbarMapping, network: Network, policies: [WriteVerifyPolicy],
        sensitivity: (kind: WriteVerifyPolicy.Kind, scores: [[Float]])?
    ) {
        let layers = mapping.layers
        self.mapping = layers.map {
            MappingRow(
                name: $0.name, rows: $0.rows, columns: $0.columns, slices: $0.slices,
                physicalColumns: $0.physicalColumns, arrays: $0.arrays, devices: $0.devices,
                utilization: $0.utilization)
        }
        let configuration = mapping.configuration
        weightBits = configuration.weightBits
        cellBits = mapping.cellBits
        sign = configuration.signEncoding.rawValue
        scale = configuration.scale.rawValue
        arrayRows = configuration.arrayRows
        arrayColumns = configuration.arrayColumns
        batchNormalization = configuration.batchNormalization.rawValue
        digitalBatchNormalizations = mapping.digitalBatchNormalizations
        func shape(_ layer: LayerMapping) -> [Int] {
            network.crossbarOperation(ofNode: layer.nodeIndex)?.weightShape ?? [layer.columns, layer.rows]
        }
        selections = policies.filter(\.kind.isBudgeted).map { policy in
            (
                policy.description,
                layers.indices.map { ShapedArray(values: policy.selection[$0], shape: shape(layers[$0])) }
            )
        }
        self.sensitivity = sensitivity.map { kind, scores in
            let formula = kind.ranking!.formula
            return (formula, layers.indices.map { ShapedArray(values: scores[$0], shape: shape(layers[$0])) })
        }
    }

    /// SHA-256 of the selections and sensitivity scores (labels, shapes and values), for the
    /// study plan.
    public var sha256: String {
        var bytes: [UInt8] = []
        func append(_ text: String) { bytes += Array(text.utf8) + [0] }
        func append(shape: [Int]) { append(shape.map(String.init).joined(separator: "x")) }
        for (policy, layers) in selections {
            append(policy)
            for layer in layers {
                append(shape: layer.shape)
                bytes += layer.values
            }
        }
        if let (formula, layers) = sensitivity {
            append(formula)
            for layer in layers {
                append(shape: layer.shape)
                for value in layer.values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
            }
        }
        return SHA256.hex(bytes)
    }

    // MARK: - Writing and reading

    /// Writes `/mapping`, `/selection` and `/sensitivity`.
    func write(to file: HDF5File) throws {
        try file.write(strings: mapping.map(\.name), to: "/mapping/name")
        let columns: [(String, [Int64])] = [
            ("rows", mapping.map { Int64($0.rows) }), ("cols", mapping.map { Int64($0.columns) }),
            ("slices", mapping.map { Int64($0.slices) }), ("physical_cols", mapping.map { Int64($0.physicalColumns) }),
            ("arrays", mapping.map { Int64($0.arrays) }), ("devices", mapping.map { Int64($0.devices) }),
        ]
        for (name, values) in columns { try file.write(values, to: "/mapping/" + name) }
        try file.write(mapping.map(\.utilization), to: "/mapping/utilization")
        try file.setAttribute("weight_bits", Int64(weightBits), on: "/mapping")
        try file.setAttribute("cell_bits", Int64(cellBits), on: "/mapping")
        try file.setAttribute("sign", sign, on: "/mapping")
        try file.setAttribute("scale", scale, on: "/mapping")
        try file.setAttribute("array_rows", Int64(arrayRows), on: "/mapping")
        try file.setAttribute("array_cols", Int64(arrayColumns), on: "/mapping")
        try file.setAttribute("batchnorm", batchNormalization, on: "/mapping")
        try file.setAttribute("batchnorm_digital", strings: digitalBatchNormalizations, on: "/mapping")
        try file.attachDimensionScale(
            "/mapping/name", name: "layer",
            to: (columns.map(\.0) + ["utilization"]).map { ("/mapping/" + $0, 0) })
        for (policy, layers) in selections {
            for (row, layer) in zip(mapping, layers) { try file.write(layer, to: "/selection/\(policy)/\(row.name)") }
        }
        if let (formula, layers) = sensitivity {
            for (row, layer) in zip(mapping, layers) { try file.write(layer, to: "/sensitivity/\(row.name)") }
            try file.setAttribute("score", formula, on: "/sensitivity")
        }
    }

    /// Reads the tables of a result file whose policies are `policyLabels`.
    init(readingFrom file: HDF5File, policyLabels: [String]) throws {
        let names = try file.readStrings("/mapping/name")
        func integers(_ name: String) throws -> [Int] {
            try file.read("/mapping/" + name, as: Int64.self).values.map { Int($0) }
        }
        let (rows, columns, slices) = (try integers("rows"), try integers("cols"), try integers("slices"))
        let (physical, arrays, devices) = (
            try integers("physical_cols"), try integers("arrays"), try integers("devices")
        )
        let utilization = try file.read("/mapping/utilization", as: Double.self).values
        mapping = names.indices.map {
            MappingRow(
                name: names[$0], rows: rows[$0], columns: columns[$0], slices: slices[$0],
                physicalColumns: physical[$0], arrays: arrays[$0], devices: devices[$0],
                utilization: utilization[$0])
        }
        func integer(_ name: String) throws -> Int {
            Int(try file.scalarAttribute(name, on: "/mapping", as: Int64.self))
        }
        weightBits = try integer("weight_bits")
        cellBits = try integer("cell_bits")
        sign = try file.stringAttribute("sign", on: "/mapping")
        scale = try file.stringAttribute("scale", on: "/mapping")
        arrayRows = try integer("array_rows")
        arrayColumns = try integer("array_cols")
        // Files written before graph networks have no batch normalisation attributes.
        batchNormalization =
            file.hasAttribute("batchnorm", on: "/mapping")
            ? try file.stringAttribute("batchnorm", on: "/mapping") : "digital"
        digitalBatchNormalizations =
            file.hasAttribute("batchnorm_digital", on: "/mapping")
            ? try file.stringsAttribute("batchnorm_digital", on: "/mapping") : []
        selections = try policyLabels.filter { file.exists("/selection/\($0)") }.map { policy in
            (policy, try names.map { try file.read("/selection/\(policy)/\($0)", as: UInt8.self) })
        }
        sensitivity =
            file.exists("/sensitivity")
            ? (
                try file.stringAttribute("score", on: "/sensitivity"),
                try names.map { try file.read("/sensitivity/\($0)", as: Float.self) }
            )
            : nil
    }
}
