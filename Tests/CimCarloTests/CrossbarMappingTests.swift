import CimCarlo
import Testing

@Suite struct CrossbarMappingTests {
    @Test(arguments: [(8, 1), (8, 2), (7, 3), (4, 4)])
    func foldOfTargetsIsTheSymmetricQuantisation(weightBits: Int, cellBits: Int) {
        var generator = SplitMix64(seed: UInt64(weightBits * 10 + cellBits))
        let weights = (0..<600).map { _ in Float(generator.nextStandardNormal()) }
        let network = makeSingleLayerNetwork(inputs: 30, outputs: 20, weights: weights)
        let scale = weights.map(abs).max()!
        let levels = Float((1 << weightBits) - 1)
        for encoding in MappingConfiguration.SignEncoding.allCases {
            let mapping = CrossbarMapping(
                network: network,
                configuration: MappingConfiguration(
                    weightBits: weightBits, signEncoding: encoding), cellBits: cellBits)
            let folded = mapping.quantizedNetwork(network).weights(ofNode: 0)
            for (original, value) in zip(weights, folded) {
                let expected = (original < 0 ? -1 : 1) * scale * (abs(original) / scale * levels).rounded() / levels
                #expect(
                    abs(value - expected) <= 1e-5 * scale, "\(encoding): \(original) → \(value), expected \(expected)")
            }
            let layer = mapping.layers[0]
            let storedBits = weightBits + (encoding == .offset ? 1 : 0)
            #expect(layer.slices == (storedBits + cellBits - 1) / cellBits)
            #expect(layer.targets.allSatisfy { (0...1).contains($0) })
        }
    }

    @Test func unquantisedMappingIsExactAndPerColumnScalesWork() {
        let weights: [Float] = [0.5, -1, 0.25, 2, -0.5, 1]  // two outputs of three inputs
        let network = makeSingleLayerNetwork(inputs: 3, outputs: 2, weights: weights)
        let mapping = CrossbarMapping(
            network: network, configuration: MappingConfiguration(weightBits: 0, scale: .column),
            cellBits: 1)
        #expect(mapping.quantizedNetwork(network).weights(ofNode: 0) == weights)
        // Column 1 (second output) has max|W| = 2: its weight 2 is at the top level.
        #expect(mapping.layers[0].targets[3 * 2 * 1 + 0 * 2] == 1)  // weight index 3, positive side
    }

    @Test func tilesDevicesAndUtilisation() {
        let network = makeSingleLayerNetwork(inputs: 300, outputs: 50, weights: [Float](repeating: 0.1, count: 15_000))
        let mapping = CrossbarMapping(
            network: network,
            configuration: MappingConfiguration(
                weightBits: 8, signEncoding: .differential, arrayRows: 128, arrayColumns: 128), cellBits: 2)
        let layer = mapping.layers[0]
        #expect(layer.slices == 4 && layer.devicesPerWeight == 8)
        #expect(layer.physicalColumns == 400)
        #expect(layer.arrays == 3 * 4)  // ceil(300/128) × ceil(400/128)
        #expect(layer.devices == 300 * 400)
        #expect(abs(layer.utilization - 120_000 / (12 * 16_384.0)) < 1e-12)
    }

    @Test func offsetEncodingReservesReferenceColumnsPerTile() {
        var generator = SplitMix64(seed: 8)
        let weights = (0..<15_000).map { _ in Float(generator.nextStandardNormal()) }
        let network = makeSingleLayerNetwork(inputs: 300, outputs: 50, weights: weights)
        let mapping = CrossbarMapping(
            network: network,
            configuration: MappingConfiguration(
                weightBits: 8, signEncoding: .offset, arrayRows: 128, arrayColumns: 128), cellBits: 2)
        let layer = mapping.layers[0]
        // 9 stored bits on 2-bit cells: 5 slices; (128 − 5) / 5 = 24 outputs per array plus 5 reference columns.
        #expect(layer.slices == 5 && layer.columnsPerTile == 24)
        #expect(layer.physicalColumns == 50 * 5 + 3 * 5)
        #expect(layer.arrays == 3 * 3)
        #expect(layer.devices == 300 * 265)
        #expect(layer.targets.count == layer.devices)
        // Unquantised offset mapping folds back to the weights themselves.
        let analog = CrossbarMapping(
            network: network,
            configuration: MappingConfiguration(
                weightBits: 0, signEncoding: .offset), cellBits: 1)
        let folded = analog.quantizedNetwork(network).weights(ofNode: 0)
        let scale = weights.map(abs).max()!
        #expect(zip(folded, weights).allSatisfy { abs($0 - $1) <= 1e-5 * scale })
    }
}
