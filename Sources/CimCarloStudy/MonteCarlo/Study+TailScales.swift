import CimCarloResults
import CimCarloSimulation
import Foundation

extension Study {
    /// Scaled-sigma sampling's scales chosen by a pilot (`[tail] scales = "auto"`, `run
    /// --tail-scales auto`): `pilotChips` chips at each of 1.05, 1.1, 1.15, 1.2, 1.3, … 8 in turn,
    /// until every (policy, time) has at least 80 % of its chips below the threshold. The scales
    /// run geometrically, six of them (the last at least 1.25 times the first), from the smallest
    /// at which every cell fails in at least 4 % of its chips (two of 50) to the first at which
    /// every cell fails in 80 %: they start where the rarest failure becomes countable, keeping
    /// the extrapolation to 1 short, and span enough of the curve for three parameters (on the
    /// quickstart, four scales within 15 % of each other gave a fit bent by noise; six over 27 %
    /// agree with plain Monte-Carlo). A cell that fails often at scale 1 is measured directly by
    /// the plain chips; at these scales it may fail on every chip. The pilot's chips are instances 2⁴⁰ and up, apart from the
    /// study's, and depend only on the seed, so every shard chooses the same scales. Returns them
    /// with a sentence saying how they were chosen.
    public func automaticTailScales(threads: Int, pilotChips: Int = 50) throws -> (scales: [Double], choice: String) {
        let candidates = [1.05, 1.1, 1.15, 1.2, 1.3, 1.4, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 8]
        let threshold = plan.threshold
        var tried: [(scale: Double, least: Double, most: Double)] = []
        for (index, scale) in candidates.enumerated() {
            let first = (1 << 40) + index * pilotChips
            let tail = TailPlan(scales: [scale], chipsPerScale: pilotChips, plainChips: first)
            let instances = Array(first..<(first + pilotChips))
            let collector = ResultCollector(
                instances: instances, policies: policies.count, times: spec.timesSeconds.count)
            try MonteCarloEngine.run(
                instances: instances, threads: threads,
                makeSimulator: {
                    let simulator = try self.makeSimulator()
                    simulator.tail = tail
                    return simulator
                }, sink: collector)
            let rows = collector.results.rows.compactMap { $0 }
            let fractions = policies.indices.flatMap { policy in
                spec.timesSeconds.indices.map { time in
                    Double(rows.filter { !threshold.isMet(by: Double($0.accuracy[policy][time])) }.count)
                        / Double(rows.count)
                }
            }
            tried.append((scale, fractions.min()!, fractions.max()!))
            if fractions.min()! >= 0.8 { break }
        }
        let low = tried.first { $0.least >= 0.04 }?.scale ?? tried.last!.scale
        let high = max(tried.first { $0.least >= 0.8 }?.scale ?? tried.last!.scale, low * 1.25)
        let scales = (0..<6).map { low * pow(high / low, Double($0) / 5) }.map { ($0 * 1000).rounded() / 1000 }
        let pilot = tried.map {
            String(format: "%g: %.0f–%.0f %%", $0.scale, 100 * $0.least, 100 * $0.most)
        }
        let choice =
            "chosen automatically from a pilot of \(pilotChips) chips per scale, failing (fewest–most across policies and times) "
            + pilot.joined(separator: ", ")
        return (scales, choice)
    }
}
