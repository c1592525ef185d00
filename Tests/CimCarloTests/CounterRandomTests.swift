import CimCarlo
import Foundation
import Testing

@testable import CimCarloSupport

/// The vectorised sampler's draws against the standard normal and uniform closed forms, with
/// fixed seeds; tolerances are 5 standard errors of each estimate.
@Suite struct CounterRandomTests {
    static let count = 1 << 21

    func normals(_ stream: CounterRandom, first: Int = 0, count: Int = count) -> [Float] {
        var values = [Float](repeating: .nan, count: count)
        values.withUnsafeMutableBufferPointer { stream.fillNormals($0, firstCounter: first) }
        return values
    }

    func correlation(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / Double(a.count)
    }

    @Test func normalsHaveUnitVarianceZeroMeanAndGaussianTails() {
        let values = normals(CounterRandom(seed: 7, instance: 3, purpose: .programming))
        let n = Double(Self.count)
        let (mean, std) = meanAndStd(values.map(Double.init))
        #expect(abs(mean) < 5 / n.squareRoot())
        #expect(abs(std * std - 1) < 5 * (2 / n).squareRoot())
        // P(|z| > 4) = erfc(4/√2) = 6.334e-5; binomial count with its standard deviation.
        let tail = erfc(4 / 2.0.squareRoot())
        let beyond = Double(values.filter { abs($0) > 4 }.count)
        #expect(abs(beyond - n * tail) < 5 * (n * tail).squareRoot())
        // Kurtosis 3 (standard error √(96/n)).
        let fourth = values.reduce(0.0) { $0 + pow(Double($1), 4) } / n
        #expect(abs(fourth - 3) < 5 * (96 / n).squareRoot())
        #expect(values.allSatisfy { $0.isFinite && abs($0) < 6 })
    }

    @Test func uniformsAreUniformOnTheOpenInterval() {
        var values = [Float](repeating: .nan, count: Self.count)
        values.withUnsafeMutableBufferPointer {
            CounterRandom(seed: 7, instance: 3, purpose: .stuckAt).fillUniforms($0, firstCounter: 11)
        }
        let n = Double(Self.count)
        let (mean, std) = meanAndStd(values.map(Double.init))
        #expect(abs(mean - 0.5) < 5 * (1 / (12 * n)).squareRoot())
        #expect(abs(std * std - 1.0 / 12) < 5 * (1 / (180 * n)).squareRoot())
        #expect(values.allSatisfy { $0 > 0 && $0 < 1 })
        #expect(abs(Double(values.filter { $0 < 1e-3 }.count) - n * 1e-3) < 5 * (n * 1e-3).squareRoot())
    }

    /// Streams of different purposes, instances and seeds, and neighbouring devices within a
    /// stream (lags that cross Philox lanes, words and blocks), are uncorrelated.
    @Test func drawsAreIndependentAcrossPurposesInstancesAndDevices() {
        let base = normals(CounterRandom(seed: 1, instance: 0, purpose: .deviceToDevice))
        let others = [
            CounterRandom(seed: 1, instance: 0, purpose: .programming),
            CounterRandom(seed: 1, instance: 1, purpose: .deviceToDevice),
            CounterRandom(seed: 2, instance: 0, purpose: .deviceToDevice),
            CounterRandom(seed: 1, instance: 0, purpose: .readNoise, substream: 1),
        ]
        let bound = 5 / Double(Self.count).squareRoot()
        for other in others {
            #expect(abs(correlation(base[...], normals(other)[...])) < bound)
        }
        for lag in [1, 2, 7, 8, 16, 24, 32, 33, 256] {
            let r = correlation(base[..<(Self.count - lag)], base[lag...])
            #expect(abs(r) < 5 / Double(Self.count - lag).squareRoot(), "lag \(lag): r = \(r)")
        }
    }

    /// A draw is a pure function of its position: any start, length or gather gives the same value.
    @Test func drawsDependOnlyOnTheirPosition() {
        let stream = CounterRandom(seed: 5, instance: 9, purpose: .verifyPulses)
        let reference = normals(stream, first: 1000, count: 300)
        for (first, count) in [(1000, 300), (1003, 97), (1031, 1), (1040, 260)] {
            let part = normals(stream, first: first, count: count)
            #expect(part[...] == reference[(first - 1000)..<(first - 1000 + count)])
        }
        let counters = [1299, 1000, 1033, 1001, 1100, 1100, 1257, 1064, 1007]
        var gathered = [Float](repeating: .nan, count: counters.count)
        counters.withUnsafeBufferPointer { counters in
            gathered.withUnsafeMutableBufferPointer { stream.normals(at: counters, into: $0) }
        }
        #expect(gathered == counters.map { reference[$0 - 1000] })
        #expect(stream.normal(1123) == reference[123])
    }
}

extension CounterRandomTests {
    /// The sampler's baseline, AVX2 and AVX-512 versions (those this CPU has) give the same bits,
    /// over unaligned ranges that cross the 32-draw groups.
    @Test func everyInstructionSetGivesTheSameDraws() {
        var generator = SplitMix64(seed: 12)
        var compared = 0
        for round in 0..<50 {
            let stream = CounterRandom(seed: generator.next(), instance: round, purpose: .programming)
            let first = Int(generator.next() % 10_000)
            let count = 1 + Int(generator.next() % 2_000)
            for normal in [true, false] {
                var reference = [Float](repeating: 0, count: count)
                _ = reference.withUnsafeMutableBufferPointer {
                    stream.fill($0, firstCounter: first, normal: normal, version: 0)
                }
                for version in 1...2 {
                    var values = [Float](repeating: 0, count: count)
                    let ran = values.withUnsafeMutableBufferPointer {
                        stream.fill($0, firstCounter: first, normal: normal, version: version)
                    }
                    guard ran else { continue }
                    compared += 1
                    #expect(values.map(\.bitPattern) == reference.map(\.bitPattern), "version \(version)")
                }
            }
        }
        #expect(compared > 0, "this CPU has neither AVX2 nor AVX-512: nothing to compare")
        #expect(CounterRandom.instructionSet != "")
    }

    /// Normals gathered at arbitrary counters (every word of a block, unordered, repeated, any
    /// count of lanes) are, on every version, the bits the contiguous draws have there.
    @Test func gatheredNormalsAreTheContiguousDrawsOnEveryVersion() {
        var generator = SplitMix64(seed: 31)
        for round in 0..<20 {
            let stream = CounterRandom(seed: generator.next(), instance: round, purpose: .verifyPulses)
            var reference = [Float](repeating: 0, count: 4_096)
            _ = reference.withUnsafeMutableBufferPointer {
                stream.fill($0, firstCounter: 0, normal: true, version: 0)
            }
            let counters = (0..<(1 + round * 13)).map { _ in Int(generator.next() % 4_096) }
            for version in 0...2 {
                guard let gathered = stream.normals(at: counters, version: version) else { continue }
                #expect(
                    gathered.map(\.bitPattern) == counters.map { reference[$0].bitPattern }, "version \(version)")
            }
        }
    }
}
