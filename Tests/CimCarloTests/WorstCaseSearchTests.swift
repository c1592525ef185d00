import CimCarlo
import Foundation
import Testing

@testable import CimCarloSimulation

/// The worst-case search against its closed forms and against random perturbations.
@Suite struct WorstCaseSearchTests {
    /// The tiny network's RRAM of `TinyStudyFixture` (its σ: D2D 0.05 and level-dependent
    /// programming noise, 2-bit cells).
    private func tinyDevice() throws -> DeviceModel {
        try DeviceModel(toml: TinyStudyFixture.deviceModelText, file: "test-rram.toml")
    }

    /// A search on the tiny network, 6-bit weights on 2-bit differential pairs, over images
    /// labelled with the mapped network's own predictions (so its clean accuracy is 100 %).
    private func tinySearch(images count: Int = 200, steps: Int = 20, starts: Int = 1, threads: Int = 1) throws
        -> WorstCaseSearch
    {
        let network = makeTinyNetwork(seed: 31)
        let device = try tinyDevice()
        let mapping = CrossbarMapping(
            network: network, configuration: MappingConfiguration(weightBits: 6, signEncoding: .differential),
            cellBits: device.cellBits)
        let random = makeRandomImages(for: network, count: count, seed: 32)
        let mapped = mapping.quantizedNetwork(network)
        let workspace = try NetworkWorkspace(network: mapped, batchCapacity: count)
        let logits = random.pixels.withUnsafeBufferPointer {
            Array(workspace.scores(mapped, pixels: $0, batchSize: count))
        }
        let classes = network.classCount
        let labels = (0..<count).map { n in
            Int32(logits[(n * classes)..<((n + 1) * classes)].indices.max { logits[$0] < logits[$1] }! - n * classes)
        }
        let images = LabeledImages(
            pixels: random.pixels, labels: labels, height: random.height, width: random.width,
            channels: random.channels)
        return try WorstCaseSearch(
            network: network, mapping: mapping, device: device, images: images, steps: steps, starts: starts,
            threads: threads)
    }

    /// Unquantised differential pairs have fold coefficients ±max|W| on both devices, so every
    /// weight's σ² is `2 m² (σ²_d2d + σ²_prog)`; the offset encoding's single device has
    /// coefficient `2m` and its reference (level ½, slice weight 2, column scale m) adds as much
    /// again, `8 m² (σ²_d2d + σ²_prog)`.
    @Test func sigmasFollowTheFoldCoefficients() throws {
        let network = makeTinyNetwork(seed: 5)
        var device = DeviceModel.ideal
        device.deviceToDevice = Variation(sigma: 0.02)
        device.programming = Variation(sigma: 0.05)
        for (encoding, factor) in [(MappingConfiguration.SignEncoding.differential, 2.0), (.offset, 8.0)] {
            let mapping = CrossbarMapping(
                network: network, configuration: MappingConfiguration(weightBits: 0, signEncoding: encoding),
                cellBits: 1)
            let sigmas = WorstCaseSearch.weightSigmas(mapping: mapping, device: device)
            for (layer, layerSigmas) in zip(mapping.layers, sigmas) {
                let m = Double(layer.weights.map { abs($0) }.max()!)
                let expected = m * (factor * 0.0029).squareRoot()
                for sigma in layerSigmas {
                    #expect(abs(Double(sigma) - expected) < 1e-6 * expected, "\(encoding) \(layer.name)")
                }
            }
        }
    }

    /// The test: at K = 0.25 and K = 1 the search is at least as harmful as the worst of
    /// 10 000 random perturbations inside the same box (half uniform in it, half its vertices).
    @Test func searchBeatsTenThousandRandomPerturbations() throws {
        let search = try tinySearch()
        #expect(search.clean.accuracy == 1)
        for bound in [0.25, 1.0] {
            var random = SplitMix64(seed: 7)
            let found = try search.search(bound: bound, random: &random)
            var worstRandom = Evaluation(accuracy: 1, meanLoss: 0)
            var sampler = SplitMix64(seed: 8)
            for trial in 0..<10_000 {
                let deviations = search.sigmas.map { layer in
                    layer.map { sigma -> Float in
                        let halfWidth = Float(bound) * sigma
                        return trial.isMultiple(of: 2)
                            ? halfWidth * Float(2 * sampler.nextOpenUnitInterval() - 1)
                            : (sampler.next() & 1 == 0 ? halfWidth : -halfWidth)
                    }
                }
                let evaluation = try search.evaluate(deviations: deviations)
                if evaluation.accuracy < worstRandom.accuracy { worstRandom = evaluation }
            }
            print(
                String(
                    format:
                        "worst-case K = %g: search %.1f %% (%d passes), worst of 10 000 random %.1f %%, clean %.1f %%",
                    bound, 100 * found.evaluation.accuracy, found.passes, 100 * worstRandom.accuracy,
                    100 * search.clean.accuracy))
            #expect(found.evaluation.accuracy <= worstRandom.accuracy, "K = \(bound)")
            #expect(found.evaluation.accuracy < search.clean.accuracy, "K = \(bound)")
        }
    }

    /// Every deviation found lies in `|δ_i| ≤ K σ_i`, and the network it describes has the
    /// accuracy reported, also when evaluated independently on an inference workspace.
    @Test func foundPerturbationStaysInsideTheBound() throws {
        let search = try tinySearch(starts: 3)
        var random = SplitMix64(seed: 1)
        let bound = 2.0
        let found = try search.search(bound: bound, random: &random)
        var atTheBound = 0
        for (deviations, sigmas) in zip(found.deviations, search.sigmas) {
            for (deviation, sigma) in zip(deviations, sigmas) {
                #expect(abs(deviation) <= Float(bound) * sigma)
                if abs(deviation) == Float(bound) * sigma { atTheBound += 1 }
            }
        }
        // Sign steps end most weights on a face of the box.
        #expect(atTheBound > search.mapping.weightCount / 2)
        #expect(try search.evaluate(deviations: found.deviations) == found.evaluation)
        var perturbed = search.network
        for (layer, mapped) in search.mapping.layers.enumerated() {
            perturbed.modifyParameters(ofNode: mapped.nodeIndex) { weight, _ in
                for index in weight.indices { weight[index] += found.deviations[layer][index] }
            }
        }
        let independent = try NetworkWorkspace(network: perturbed, batchCapacity: 64, supportsBackward: false)
            .evaluate(perturbed, on: search.images)
        #expect(abs(independent.accuracy - found.evaluation.accuracy) <= 1.0 / Double(search.images.count))
    }

    /// Over several bounds the worst accuracy found never rises with K: a smaller bound's
    /// perturbation is carried when its own search found nothing worse, and stays in its box.
    @Test func worstAccuracyNeverRisesWithTheBound() throws {
        let search = try tinySearch(steps: 6)
        var random = SplitMix64(seed: 3)
        let findings = try search.search(bounds: [2, 0.1, 0.25, 1], random: &random)
        #expect(findings.map(\.bound) == [0.1, 0.25, 1, 2])
        for (smaller, larger) in zip(findings, findings.dropFirst()) {
            #expect(larger.evaluation.accuracy <= smaller.evaluation.accuracy)
        }
        for finding in findings {
            #expect(finding.foundWithin <= finding.bound)
            #expect(try search.evaluate(deviations: finding.deviations) == finding.evaluation)
            for (deviations, sigmas) in zip(finding.deviations, search.sigmas) {
                for (deviation, sigma) in zip(deviations, sigmas) {
                    #expect(abs(deviation) <= Float(finding.foundWithin) * sigma)
                }
            }
        }
    }

    @Test func zeroBoundGivesTheCleanAccuracy() throws {
        let search = try tinySearch()
        var random = SplitMix64(seed: 1)
        let found = try search.search(bound: 0, random: &random)
        #expect(found.evaluation == search.clean)
        #expect(found.deviations.allSatisfy { $0.allSatisfy { $0 == 0 } })
        #expect(found.passes == 0)
        let inference = try NetworkWorkspace(network: search.network, batchCapacity: 64, supportsBackward: false)
            .evaluate(search.network, on: search.images)
        #expect(abs(inference.accuracy - search.clean.accuracy) <= 1.0 / Double(search.images.count))
    }

    /// The gradient is summed over batches in slots whose order does not depend on the
    /// workers, so the search finds the same perturbation on any thread count; random starts
    /// follow the generator.
    @Test func searchIsDeterministicForAnyThreadCount() throws {
        var findings: [WorstCaseSearch.Finding] = []
        for threads in [1, 2, 3] {
            // 700 images: six batches, the last one short.
            let search = try tinySearch(images: 700, steps: 8, starts: 2, threads: threads)
            var random = SplitMix64(seed: 11)
            findings.append(try search.search(bound: 0.5, random: &random))
        }
        for finding in findings.dropFirst() {
            #expect(finding.deviations == findings[0].deviations)
            #expect(finding.evaluation == findings[0].evaluation)
            #expect((finding.start, finding.step) == (findings[0].start, findings[0].step))
        }
    }

    /// On one batch the pass's gradient is the backward pass's mean-loss gradient, as the
    /// sensitivity pass computes it.
    @Test func passGradientIsTheMeanLossGradient() throws {
        let search = try tinySearch(images: 100)
        let (_, gradient) = WorstCaseSearch.pass(
            search.network, mapping: search.mapping, images: search.images, workspaces: try search.makeWorkspaces(),
            gradient: true)
        let reference = try WeightSensitivity.compute(network: search.network, images: search.images)
        for (layer, mapped) in search.mapping.layers.enumerated() {
            for (value, expected) in zip(gradient![layer], reference.gradient[mapped.nodeIndex]) {
                #expect(abs(value - expected) <= 1e-6 * max(1, abs(expected)))
            }
        }
    }

    @Test func badInputIsOneClearLine() throws {
        let search = try tinySearch(images: 20, steps: 1)
        var random = SplitMix64(seed: 1)
        for bound in [-1.0, .nan, .infinity] {
            #expect(throws: WorstCaseError.self) {
                _ = try search.search(bound: bound, random: &random)
            }
            #expect(throws: WorstCaseError.self) { _ = try search.search(bounds: [1, bound], random: &random) }
            let line = WorstCaseError.bound(bound).description
            #expect(!line.contains("\n") && line.contains("device sigmas"))
        }
        let network = makeTinyNetwork(seed: 31)
        let mapping = CrossbarMapping(network: network, configuration: MappingConfiguration(), cellBits: 2)
        #expect(throws: WorstCaseError.steps(0)) {
            _ = try WorstCaseSearch(
                network: network, mapping: mapping, device: .ideal, images: search.images, steps: 0)
        }
    }
}
