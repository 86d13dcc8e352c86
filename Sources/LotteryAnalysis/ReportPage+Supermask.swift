import Foundation

extension ReportPage {
    /// Supermask accuracy vs weights remaining (Zhou et al. 2019, §5, "Supermasks"): each configuration's masks on
    /// the untrained θ₀ and on its signed constants, no training; chance (1 / classes) as a reference line. Random
    /// reinit controls are left out (their mask is their parent round's, so their values repeat it); random pruning
    /// controls stay in as the random-mask baseline. Empty when the folder has no supermask columns.
    func supermaskSection() -> String {
        let shown = folder.configurations.indices.filter { index in
            let configuration = folder.configurations[index]
            guard !configuration.name.hasSuffix("random reinit (control)") else { return false }
            return groups[index].values.contains { $0.supermask.n > 0 || $0.supermaskSignedConstant.n > 0 }
        }
        guard !shown.isEmpty else { return "" }
        // Chance: one over the number of classes; every data set this tool trains (MNIST, Fashion-MNIST) has 10.
        let chance = 10.0
        func chart(_ title: String, _ statistic: (Group) -> Stats) -> String {
            var series: [PlotSeries] = []
            for index in shown {
                let configuration = folder.configurations[index]
                let points = groups[index].sorted { $0.key < $1.key }.compactMap { _, group -> PlotPoint? in
                    let stats = statistic(group)
                    guard stats.n > 0 else { return nil }
                    return PlotPoint(x: group.density.mean * 100, y: stats.mean * 100, error: stats.std * 100, n: stats.n)
                }
                if !points.isEmpty {
                    series.append(PlotSeries(name: configuration.name, points: points, dashed: configuration.isControl))
                }
            }
            let all = series.flatMap(\.points)
            let x = PlotAxis(label: "percent of weights remaining", scale: .log, values: all.map(\.x), reversed: true)
            let y = PlotAxis(
                label: "test accuracy, untrained (%)",
                values: all.flatMap { [$0.y - ($0.error ?? 0), $0.y + ($0.error ?? 0)] } + [chance], clamp: 0...100)
            return LineChart(
                title: title, x: x, y: y, series: series, width: 760, height: 420, referenceY: chance,
                referenceLabel: "chance"
            ).svg()
        }
        let content =
            figure(id: "chart-supermask", chart("Supermask: the mask on θ₀") { $0.supermask })
            + figure(
                id: "chart-supermask-signed",
                chart("Supermask: the mask on signed constants sign(θ₀)·σ") { $0.supermaskSignedConstant })
        return section(
            id: "supermask", title: "Supermask accuracy vs weights remaining",
            note:
                "Zhou et al. (2019), §5 (Supermasks): test accuracy of each round's mask applied to the untrained initial weights (left) and to their signed constants ±σ (right), with no training (rounds.csv columns <code>supermask_test_acc</code>, <code>supermask_signed_constant_test_acc</code>). Round 0 keeps every weight: chance. Random pruning controls (dashed) are the random-mask baseline. Mean ± standard deviation over seeds.",
            content: "<div class=\"panels\">\(content)</div>")
    }
}
