import CimCarlo
import Foundation
import Testing

/// IR drop against its formula on a hand-computed array, against a nodal solve of a small
/// crossbar, and in tile mode against effective-weight mode.
@Suite struct IRDropTests {
    /// `IRDropProduct` on one product: the ideal outputs minus the IR drop's correction.
    private func corrected(
        inputs: [Float], weights: [Float], outputs: Int, wireOhms: Double, gMax: Double, arrayRows: Int
    ) -> [Float] {
        var device = DeviceModel.ideal
        device.maximumConductance = gMax
        let product = IRDropProduct(
            IRDrop(wireResistanceOhms: wireOhms), device: device, arrayRows: arrayRows, largestOutputs: outputs)
        let inner = inputs.count
        var output = (0..<outputs).map { column in
            (0..<inner).reduce(Float(0)) { $0 + weights[column * inner + $1] * inputs[$1] }
        }
        let scales = [Float](repeating: 1, count: outputs)
        product.apply(
            input: inputs, rows: 1, inner: inner, lda: inner, weights: weights, ldb: inner, scales: scales,
            outputs: outputs, output: &output, ldc: outputs)
        return output
    }

    @Test func twoRowsByHand() {
        // n = 2, w = x = (1, 1), r·g_max = 1/8: a = 2 · 2 / 8 = ½, c(½) = 0.20625, s = (0, ¾):
        // y = 2 − 0.20625 · ¾ = 1.8453125 (aihwkit's formula, worked out by hand).
        let y = corrected(inputs: [1, 1], weights: [1, 1], outputs: 1, wireOhms: 1, gMax: 0.125, arrayRows: 2)
        #expect(abs(y[0] - 1.8453125) < 1e-6)
        // Read as two arrays of one row each, row 0 of each sits at the sense amplifier: no drop.
        #expect(
            corrected(inputs: [1, 1], weights: [1, 1], outputs: 1, wireOhms: 1, gMax: 0.125, arrayRows: 1)[0] == 2)
    }

    /// Column currents of a crossbar with wire resistance `ohms` per segment on word and bit
    /// lines, solved by nodal analysis: word line j is driven at `voltages[j]` before column 0,
    /// each bit line is held at ground after row `rows − 1` (the sense amplifier); `siemens` is
    /// column-major. Dense Gaussian elimination over the 2·rows·columns node voltages.
    private func nodalCurrents(siemens: [Double], voltages: [Double], columns: Int, ohms: Double) -> [Double] {
        let rows = voltages.count
        let unknowns = 2 * rows * columns
        func word(_ row: Int, _ column: Int) -> Int { row * columns + column }
        func bit(_ row: Int, _ column: Int) -> Int { rows * columns + row * columns + column }
        var matrix = [[Double]](repeating: [Double](repeating: 0, count: unknowns + 1), count: unknowns)
        let wire = 1 / ohms
        func connect(_ a: Int, _ b: Int?, _ conductance: Double, source: Double = 0) {
            matrix[a][a] += conductance
            if let b { matrix[a][b] -= conductance } else { matrix[a][unknowns] += conductance * source }
        }
        for row in 0..<rows {
            for column in 0..<columns {
                let g = siemens[column * rows + row]
                let (u, b) = (word(row, column), bit(row, column))
                connect(u, column == 0 ? nil : word(row, column - 1), wire, source: voltages[row])
                if column + 1 < columns { connect(u, word(row, column + 1), wire) }
                connect(u, b, g)
                connect(b, u, g)
                if row > 0 { connect(b, bit(row - 1, column), wire) }
                connect(b, row + 1 < rows ? bit(row + 1, column) : nil, wire)
            }
        }
        for pivot in 0..<unknowns {
            let best = (pivot..<unknowns).max { abs(matrix[$0][pivot]) < abs(matrix[$1][pivot]) }!
            matrix.swapAt(pivot, best)
            for row in (pivot + 1)..<unknowns where matrix[row][pivot] != 0 {
                let factor = matrix[row][pivot] / matrix[pivot][pivot]
                for column in pivot...unknowns { matrix[row][column] -= factor * matrix[pivot][column] }
            }
        }
        var solution = [Double](repeating: 0, count: unknowns)
        for row in stride(from: unknowns - 1, through: 0, by: -1) {
            var value = matrix[row][unknowns]
            for column in (row + 1)..<unknowns { value -= matrix[row][column] * solution[column] }
            solution[row] = value / matrix[row][row]
        }
        return (0..<columns).map { solution[bit(rows - 1, $0)] / ohms }
    }

    @Test func nodalSolveOfOneCellIsTheSeriesCircuit() {
        // One device between two segments: I = V / (1/G + 2r).
        let current = nodalCurrents(siemens: [1e-3], voltages: [0.2], columns: 1, ohms: 10)[0]
        #expect(abs(current - 0.2 / (1e3 + 20)) < 1e-15)
    }

    @Test func correctsTowardANodalSolveWithoutOvershooting() {
        var generator = SplitMix64(seed: 5)
        let (rows, columns, gMax, ohms) = (8, 6, 25e-6, 60.0)
        let siemens = (0..<(rows * columns)).map { _ in 1e-6 + 24e-6 * generator.nextOpenUnitInterval() }
        let voltages = (0..<rows).map { _ in 0.2 * generator.nextOpenUnitInterval() }
        // The model's row 0 sits at the sense amplifier, the circuit's last row does.
        let inputs = voltages.reversed().map { Float($0 / voltages.max()!) }
        let weights = (0..<columns).flatMap { column in
            (0..<rows).reversed().map { Float(siemens[column * rows + $0] / gMax) }
        }
        let model = corrected(
            inputs: inputs, weights: weights, outputs: columns, wireOhms: ohms, gMax: gMax, arrayRows: rows)
        let circuit = nodalCurrents(siemens: siemens, voltages: voltages, columns: columns, ohms: ohms)
        var captured: [Double] = []
        for column in 0..<columns {
            let ideal = (0..<rows).reduce(0.0) { $0 + siemens[column * rows + $1] * voltages[$1] }
            let predicted = Double(model[column]) * gMax * voltages.max()!
            // The circuit loses current; the model loses some of it, never more.
            #expect(circuit[column] < ideal && predicted < ideal && predicted > circuit[column])
            captured.append((ideal - predicted) / (ideal - circuit[column]))
        }
        // A bit-line-only mean-field estimate: a part of the drop (the word lines carry about half).
        let (mean, _) = meanAndStd(captured)
        #expect(mean > 0.1 && mean < 0.9, "captured \(captured)")
    }

    @Test func tileModeMatchesEffectiveWeightsWithIdealConverters() throws {
        // Unquantised positive weights: every array holds |w|/s on the positive side, so the two
        // modes compute the same correction.
        var generator = SplitMix64(seed: 8)
        let (inputs, outputs) = (20, 5)
        let weights = (0..<(inputs * outputs)).map { _ in Float(generator.nextOpenUnitInterval()) }
        let network = makeSingleLayerNetwork(inputs: inputs, outputs: outputs, weights: weights)
        let test = makeRandomImages(for: network, count: 30, seed: 9)
        var device = DeviceModel.ideal
        device.irDrop = IRDrop(wireResistanceOhms: 400)
        let mapping = CrossbarMapping(
            network: network, configuration: MappingConfiguration(weightBits: 0, arrayRows: 8), cellBits: 1)
        func loss(_ periphery: PeripheryConfiguration, device: DeviceModel) throws -> Float {
            try ChipSimulator(
                network: network, mapping: mapping, device: device, policies: [WriteVerifyPolicy(kind: .none)],
                timesSeconds: [0], seed: 1, test: test, periphery: periphery
            ).simulate(instance: 0).loss[0][0]
        }
        let effective = try loss(PeripheryConfiguration(), device: device)
        let tile = try loss(PeripheryConfiguration(fidelity: .tile), device: device)
        let clean = try loss(PeripheryConfiguration(), device: .ideal)
        #expect(abs(effective - tile) <= 1e-5 * abs(effective), "\(effective) vs \(tile)")
        #expect(abs(effective - clean) > 1e-3 * abs(clean), "IR drop changes the outputs")
    }
}
