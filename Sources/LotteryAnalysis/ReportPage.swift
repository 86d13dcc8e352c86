import Foundation
import LotteryCore
import LotteryResults

/// The HTML page of a report: one self-contained XHTML-compatible file (inline CSS and SVG, no scripts, no
/// network), aggregated so that a sweep of hundreds of trials still loads fast.
struct ReportPage {
    /// Metrics of one configuration at one IMP round, over its seeds.
    struct Group {
        var density: Stats
        var testAccAtES: Stats
        var earlyStop: Stats
        var testAccFinal: Stats
        /// Supermask accuracies (no training), n = 0 when the folder has none.
        var supermask = Stats([])
        var supermaskSignedConstant = Stats([])
    }

    let folder: ResultsFolder
    let analysis: MaskAnalysis
    let options: ReportOptions
    /// The sweep's state from results.db (`nil` for a folder of CSVs only).
    let status: SweepStatus?
    /// `[configuration][IMP round]`.
    let groups: [[Int: Group]]

    init(folder: ResultsFolder, analysis: MaskAnalysis, options: ReportOptions, status: SweepStatus? = nil) {
        self.status = status
        self.folder = folder
        self.analysis = analysis
        self.options = options
        typealias Values = (
            density: [Double], acc: [Double], es: [Double], final: [Double], supermask: [Double], signed: [Double]
        )
        var values: [[Int: Values]] = Array(repeating: [:], count: folder.configurations.count)
        for round in folder.rounds {
            guard let trial = folder.trial(round.trialID) else { continue }
            var entry = values[trial.configuration][round.maskRound] ?? ([], [], [], [], [], [])
            entry.density.append(round.density)
            entry.acc.append(round.testAccAtES ?? .nan)
            entry.es.append(round.earlyStopIteration ?? .nan)
            entry.final.append(round.testAccFinal ?? .nan)
            entry.supermask.append(round.supermaskTestAcc ?? .nan)
            entry.signed.append(round.supermaskSignedConstantTestAcc ?? .nan)
            values[trial.configuration][round.maskRound] = entry
        }
        groups = values.map { byRound in
            byRound.mapValues {
                Group(
                    density: Stats($0.density), testAccAtES: Stats($0.acc), earlyStop: Stats($0.es),
                    testAccFinal: Stats($0.final), supermask: Stats($0.supermask),
                    supermaskSignedConstant: Stats($0.signed))
            }
        }
    }

    func html() -> String {
        let title = "Lottery ticket report: \((folder.directory as NSString).lastPathComponent)"
        var body = "<h1>\(SVG.escape(title))</h1>"
        body += summarySection()
        body += section(
            id: "accuracy", title: "Test accuracy at early stop vs weights remaining",
            note:
                "Frankle &amp; Carbin (2019), Figures 1 and 4 (right). Mean ± standard deviation over seeds; n = seeds per point. One line per configuration: with <code>prune.criterion</code> in the grid, one per mask criterion (Zhou et al. 2019, §3, mask criteria); control branches dashed — random reinit (the paper's Figure 4 control) and random pruning; <code>prune.schedule: oneshot</code> densities as one-shot pruning (Frankle &amp; Carbin, Figure 4, iterative vs one-shot).",
            content: figure(
                id: "chart-accuracy",
                densityChart(title: "Test accuracy at early stop", label: "test accuracy at early stop (%)", scale: 100)
                { $0.testAccAtES }))
        body += section(
            id: "early-stop", title: "Early-stop iteration vs weights remaining",
            note: "Figures 1 and 4 (left): the iteration of minimum validation loss.",
            content: figure(
                id: "chart-early-stop",
                densityChart(title: "Early-stop iteration", label: "early-stop iteration", scale: 1) { $0.earlyStop }))
        body += supermaskSection()
        body += timelineSection()
        body += curvesSection()
        body += pixelsSection()
        body += similaritySection()
        body += tablesSection()
        body += """
            <section id="files"><h2>Files</h2><p>Tidy CSVs beside this report (columns in docs/report.md): \
            <code>structure.csv</code> (trial × round × layer), <code>similarity.csv</code> (mask pairs), \
            <code>consensus.csv</code> (histogram of seed agreement), <code>pixels.csv</code> (first-layer \
            connectivity per input pixel). <code>scripts/plot_results.py DIR</code> draws the same figures with \
            matplotlib.</p></section>
            """
        return """
            <!DOCTYPE html>
            <html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>\
            <meta name="viewport" content="width=device-width, initial-scale=1"/>\
            <title>\(SVG.escape(title))</title><style>\(Self.css)</style></head><body>\(body)</body></html>

            """
    }

    static let css = """
        body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}\
        h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}\
        h3{font-size:15px}p.note{color:#555;font-size:13px}\
        table{border-collapse:collapse;font-size:12px;margin:8px 0}\
        td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}\
        td.text,th.text{text-align:left}\
        .panels{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}\
        figure{margin:0}figcaption{font-size:12px;color:#555;max-width:600px}\
        code{background:#f4f4f4;padding:0 3px}
        """

    // MARK: sections

    func section(id: String, title: String, note: String, content: String) -> String {
        "<section id=\"\(id)\"><h2>\(SVG.escape(title))</h2><p class=\"note\">\(note)</p>\(content)</section>"
    }

    /// Where the cluster's time went (issue 17): trials per worker over time and the sweep's efficiency, from
    /// results.db (the same figures as `lth status --json`'s `timeline`). Empty for a folder of CSVs only.
    func timelineSection() -> String {
        guard let timeline = status?.timeline, !timeline.workers.isEmpty else { return "" }
        let chart = TimelineChart(timeline: timeline)
        let hidden = timeline.workers.count - chart.maxLanes
        let note =
            String(
                format:
                    "Each lane is a worker; grey: connected (× slots), bars: its recorded rounds, one colour per trial (a bar ends when the round was recorded and lasts the round's own seconds). Gaps in the grey are idle time. Efficiency = busy worker-seconds ÷ available worker-seconds = %@ ÷ %@ = <b>%.1f%%</b>.",
                Self.duration(timeline.busySeconds), Self.duration(timeline.availableSeconds),
                timeline.efficiency * 100)
            + (hidden > 0 ? " The first \(chart.maxLanes) of \(timeline.workers.count) workers are drawn." : "")
        return section(
            id: "timeline", title: "Where the time went", note: note,
            content: figure(id: "chart-timeline", chart.svg()))
    }

    func figure(id: String, _ svg: String, caption: String? = nil) -> String {
        "<figure id=\"\(id)\">\(svg)\(caption.map { "<figcaption>\(SVG.escape($0))</figcaption>" } ?? "")</figure>"
    }

    func summarySection() -> String {
        let main = folder.trials.filter { $0.branchKind == nil }.count
        let seconds = folder.rounds.compactMap(\.seconds).filter(\.isFinite).reduce(0, +)
        let hosts = Set(folder.rounds.compactMap(\.host)).sorted()
        var rows: [(String, String)] = [("folder", folder.directory)]
        if let status {
            // How far the sweep had got when this report was made (it may still be running).
            rows.append(("sweep progress", "\(status.progressLine) (read \(status.now))"))
        }
        rows += [
            ("trials", "\(folder.trials.count) (\(main) IMP, \(folder.trials.count - main) control branches)"),
            ("configurations", "\(folder.configurations.count)"),
            ("rounds (rows of rounds.csv)", "\(folder.rounds.count)"),
            (
                "deepest round",
                "\(folder.rounds.map(\.round).max() ?? 0), smallest density \(Self.percent(folder.rounds.map(\.density).min() ?? 1))"
            ),
            (
                "hosts",
                hosts.isEmpty
                    ? "—"
                    : "\(hosts.count): \(hosts.prefix(12).joined(separator: ", "))\(hosts.count > 12 ? ", …" : "")"
            ),
            ("total compute (sum of seconds)", Self.duration(seconds)),
            (
                "masks read",
                "\(analysis.masksRead)\(analysis.missingMasks.isEmpty ? "" : ", \(analysis.missingMasks.count) missing (first: \(analysis.missingMasks[0]))")"
            ),
        ]
        if !folder.varyingColumns.isEmpty {
            rows.append(("varied hyperparameters", folder.varyingColumns.joined(separator: ", ")))
        }
        if let table = folder.trialsTable, let column = table.column(ResultsColumn.status) {
            var counts: [String: Int] = [:]
            for row in table.rows { counts[row[column], default: 0] += 1 }
            rows.append(
                (
                    "trial status (trials.csv)",
                    counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
                ))
        }
        var html = "<section id=\"summary\"><h2>Summary</h2><table>"
        for (key, value) in rows {
            html += "<tr><th class=\"text\">\(SVG.escape(key))</th><td class=\"text\">\(SVG.escape(value))</td></tr>"
        }
        html +=
            "</table><h3>Configurations</h3><table><tr><th class=\"text\">name</th><th>trials</th><th class=\"text\">seeds</th></tr>"
        for configuration in folder.configurations {
            let seeds = configuration.trialIDs.compactMap { folder.trial($0)?.seed }
            let unique = Set(seeds).sorted { (Int($0) ?? Int.max, $0) < (Int($1) ?? Int.max, $1) }
            let shown =
                unique.prefix(10).joined(separator: ", ") + (unique.count > 10 ? ", … (\(unique.count) seeds)" : "")
            html +=
                "<tr><td class=\"text\">\(SVG.escape(configuration.name))</td><td>\(configuration.trialIDs.count)</td><td class=\"text\">\(SVG.escape(shown))</td></tr>"
        }
        return html + "</table></section>"
    }

    /// Charts 1 and 2: a per-round statistic against percent of weights remaining (log, reversed).
    func densityChart(title: String, label: String, scale: Double, _ statistic: (Group) -> Stats) -> String {
        var series: [PlotSeries] = []
        for (index, configuration) in folder.configurations.enumerated() {
            let points = groups[index].sorted { $0.key < $1.key }.compactMap { _, group -> PlotPoint? in
                let stats = statistic(group)
                guard stats.n > 0 else { return nil }
                return PlotPoint(
                    x: group.density.mean * 100, y: stats.mean * scale, error: stats.std * scale, n: stats.n)
            }
            series.append(PlotSeries(name: configuration.name, points: points, dashed: configuration.isControl))
        }
        let all = series.flatMap(\.points)
        let x = PlotAxis(label: "percent of weights remaining", scale: .log, values: all.map(\.x), reversed: true)
        let y = PlotAxis(
            label: label, values: all.flatMap { [$0.y - ($0.error ?? 0), $0.y + ($0.error ?? 0)] },
            clamp: scale == 100 ? 0...100 : nil)
        return LineChart(title: title, x: x, y: y, series: series, width: 760, height: 420).svg()
    }

    /// IMP rounds of configuration `index` nearest to each of `targets` (fractions), at most a factor 1.6 away.
    func rounds(of index: Int, near targets: [Double]) -> [Int] {
        let available = groups[index].map { (round: $0.key, density: $0.value.density.mean) }
        var chosen: [Int] = []
        for target in targets {
            guard
                let best = available.filter({ $0.density > 0 }).min(by: {
                    abs(log($0.density / target)) < abs(log($1.density / target))
                }), abs(log(best.density / target)) < log(1.6), !chosen.contains(best.round)
            else { continue }
            chosen.append(best.round)
        }
        return chosen.sorted()
    }

    func curvesSection() -> String {
        guard let curves = folder.curves else {
            return section(
                id: "curves", title: "Test accuracy during training", note: "No curves.csv in this folder.", content: ""
            )
        }
        let selected = folder.configurations.indices.map { Set(rounds(of: $0, near: options.curveDensities)) }
        let idColumn = curves.column(ResultsColumn.trialID)!
        let roundColumn = curves.column(ResultsColumn.round)!
        let iterationColumn = curves.column(ResultsColumn.iteration)!
        let accColumn = curves.column(ResultsColumn.testAcc)!
        // [configuration][IMP round][iteration] → test accuracies over seeds.
        var sums: [[Int: [Int: [Double]]]] = Array(repeating: [:], count: folder.configurations.count)
        for row in curves.rows {
            guard let trial = folder.trial(row[idColumn]), let round = Int(row[roundColumn]),
                let iteration = Int(row[iterationColumn]), let accuracy = Double(row[accColumn])
            else { continue }
            let maskRound = trial.branchKind == nil ? round : (trial.parentRound ?? round)
            guard selected[trial.configuration].contains(maskRound) else { continue }
            sums[trial.configuration][maskRound, default: [:]][iteration, default: []].append(accuracy)
        }
        var panels = ""
        for (index, configuration) in folder.configurations.enumerated() {
            var series: [PlotSeries] = []
            for round in selected[index].sorted() {
                guard let byIteration = sums[index][round] else { continue }
                let points = byIteration.sorted { $0.key < $1.key }.map { iteration, values in
                    let stats = Stats(values)
                    return PlotPoint(x: Double(iteration), y: stats.mean * 100, error: stats.std * 100, n: stats.n)
                }
                let density = groups[index][round]?.density.mean ?? .nan
                series.append(
                    PlotSeries(
                        name: "\(Self.percent(density)) (round \(round))",
                        points: Self.downsample(points, to: options.maxPointsPerCurve)))
            }
            guard !series.isEmpty else { continue }
            let all = series.flatMap(\.points)
            let chart = LineChart(
                title: configuration.name,
                x: PlotAxis(label: "training iteration", values: all.map(\.x), includeZero: true),
                y: PlotAxis(label: "test accuracy (%)", values: all.map(\.y), clamp: 0...100), series: series,
                width: 520, height: 340)
            panels += figure(id: "chart-curves-\(index)", chart.svg())
        }
        return section(
            id: "curves", title: "Test accuracy during training at selected densities",
            note:
                "Figure 3: one panel per configuration, mean over seeds at each evaluation (± std); rounds nearest 100, 51, 21, 7, 3.6 and 1.9% of weights remaining that exist; at most \(options.maxPointsPerCurve) points per line.",
            content: "<div class=\"panels\">\(panels)</div>")
    }

    func pixelsSection() -> String {
        var html = ""
        var shown = 0
        for (index, configuration) in folder.configurations.enumerated() where !configuration.isControl {
            guard shown < options.maxPixelConfigurations else { break }
            let chosen = rounds(of: index, near: options.pixelDensities).filter {
                analysis.aggregates[index][$0]?.pixelMeanOut != nil
            }
            guard !chosen.isEmpty else { continue }
            shown += 1
            var maps = ""
            var agreement = ""
            for round in chosen {
                let aggregate = analysis.aggregates[index][round]!
                let side = aggregate.pixelSide
                let density = Self.percent(aggregate.density.isEmpty ? .nan : Stats(aggregate.density).mean)
                maps += figure(
                    id: "chart-pixels-\(index)-\(round)",
                    HeatmapChart(
                        title: "round \(round): \(density)", rows: side, cols: side, values: aggregate.pixelMeanOut!,
                        lower: 0, colourLabel: "kept outgoing weights"
                    ).svg())
                agreement += figure(
                    id: "chart-pixel-agreement-\(index)-\(round)",
                    HeatmapChart(
                        title: "round \(round): \(density)", rows: side, cols: side, values: aggregate.pixelConnected!,
                        lower: 0, upper: 1, colourLabel: "seeds keeping pixel"
                    ).svg())
            }
            html += "<h3>\(SVG.escape(configuration.name))</h3>"
            html +=
                "<p class=\"note\">Mean over seeds of each input pixel's kept outgoing weights (first layer, 28×28):</p><div class=\"panels\">\(maps)</div>"
            html +=
                "<p class=\"note\">Fraction of seeds in which the pixel keeps at least one outgoing weight (seed consensus):</p><div class=\"panels\">\(agreement)</div>"
        }
        if shown == 0 { html = "<p>No fully connected first layer over square images (MNIST 28×28×1, CIFAR-10 32×32×3: channels add up per pixel) among the masks read; a conv network has none (its first layer is a 3×3 convolution).</p>" }
        return section(
            id: "pixels", title: "Input-pixel connectivity",
            note:
                "Which input pixels the pruned first layer still listens to (MNIST's always-blank border pixels get no gradient, so whether they go first depends on training length and reinit rule).",
            content: html)
    }

    func similaritySection() -> String {
        var series: [PlotSeries] = []
        for (index, configuration) in folder.configurations.enumerated() where !configuration.isControl {
            let points = analysis.aggregates[index].sorted { $0.key < $1.key }.compactMap {
                _, aggregate -> PlotPoint? in
                let stats = Stats(aggregate.jaccardOverChance)
                guard stats.n > 0 else { return nil }
                return PlotPoint(x: Stats(aggregate.density).mean * 100, y: stats.mean, error: stats.std, n: stats.n)
            }
            if !points.isEmpty { series.append(PlotSeries(name: configuration.name, points: points)) }
        }
        guard !series.isEmpty else {
            return section(
                id: "similarity", title: "Mask similarity across seeds",
                note: "Needs at least two seeds of a configuration with mask files.", content: "")
        }
        let all = series.flatMap(\.points)
        let chart = LineChart(
            title: "Jaccard index across seeds ÷ chance",
            x: PlotAxis(label: "percent of weights remaining", scale: .log, values: all.map(\.x), reversed: true),
            y: PlotAxis(
                label: "Jaccard / Jaccard of independent masks",
                values: all.flatMap { [$0.y - ($0.error ?? 0), $0.y + ($0.error ?? 0)] } + [1]),
            series: series, width: 760, height: 420, referenceY: 1, referenceLabel: "chance")
        return section(
            id: "similarity", title: "Mask similarity across seeds",
            note:
                "Whole-network Jaccard index of the masks of two seeds of the same configuration and round, divided by the Jaccard index independent masks of the same densities would have; 1 = chance. n = seed pairs. Per-layer values, consecutive rounds and configuration pairs: similarity.csv.",
            content: figure(id: "chart-similarity", chart.svg()))
    }

    func tablesSection() -> String {
        var html = ""
        for (index, configuration) in folder.configurations.enumerated() {
            html +=
                "<h3>\(SVG.escape(configuration.name))</h3><table><tr><th>round</th><th>weights remaining</th><th>n</th><th>test acc. at early stop (%)</th><th>early-stop iteration</th><th>final test acc. (%)</th><th>effective density</th><th>dead hidden units</th><th>Jaccard / chance (seeds)</th></tr>"
            for (round, group) in groups[index].sorted(by: { $0.key < $1.key }) {
                let aggregate = analysis.aggregates[index][round]
                let effective = aggregate.map { Stats($0.effectiveDensity) }
                let dead = aggregate.map { Stats($0.deadUnits) }
                let jaccard = aggregate.map { Stats($0.jaccardOverChance) }
                html +=
                    "<tr><td>\(round)</td><td>\(Self.percent(group.density.mean))</td><td>\(group.testAccAtES.n)</td>"
                html +=
                    "<td>\(Self.meanStd(group.testAccAtES, scale: 100))</td><td>\(Self.meanStd(group.earlyStop, scale: 1, digits: 0))</td>"
                html += "<td>\(Self.meanStd(group.testAccFinal, scale: 100))</td>"
                html += "<td>\(effective.map { $0.n > 0 ? Self.percent($0.mean) : "—" } ?? "—")</td>"
                html += "<td>\(dead.map { $0.n > 0 ? String(format: "%.1f", $0.mean) : "—" } ?? "—")</td>"
                html +=
                    "<td>\(jaccard.map { $0.n > 0 ? "\(String(format: "%.2f", $0.mean)) (\($0.n) pairs)" : "—" } ?? "—")</td></tr>"
            }
            html += "</table>"
        }
        return section(
            id: "tables", title: "Numbers per configuration and round",
            note:
                "Mean ± standard deviation over seeds (n). Effective density: kept weights on an input→output path. Dead hidden units: zombie (unreachable from inputs) or inactive (reaching no output), summed over hidden layers, mean over seeds.",
            content: html)
    }

    // MARK: formatting

    static func percent(_ fraction: Double) -> String {
        guard fraction.isFinite else { return "—" }
        let value = fraction * 100
        return
            (value >= 10
            ? String(format: "%.1f", value)
            : value >= 1 ? String(format: "%.2f", value) : String(format: "%.3f", value)) + "%"
    }

    static func meanStd(_ stats: Stats, scale: Double, digits: Int = 2) -> String {
        guard stats.n > 0 else { return "—" }
        return String(format: "%.\(digits)f ± %.\(digits)f", stats.mean * scale, stats.std * scale)
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (hours, minutes, rest) = (total / 3600, (total % 3600) / 60, total % 60)
        let text = hours > 0 ? "\(hours) h \(minutes) min" : minutes > 0 ? "\(minutes) min \(rest) s" : "\(rest) s"
        return "\(text) (\(String(format: "%.1f", seconds)) s)"
    }

    /// Evenly spaced points of `points` (first and last kept), at most `limit`.
    static func downsample(_ points: [PlotPoint], to limit: Int) -> [PlotPoint] {
        guard points.count > limit, limit >= 2 else { return points }
        return (0..<limit).map { points[Int((Double($0) * Double(points.count - 1) / Double(limit - 1)).rounded())] }
    }
}
