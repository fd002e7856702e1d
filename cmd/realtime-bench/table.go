package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// printTable reads -json results, one per line, and writes a markdown table
// with one row per scenario and parameters and one column per server, each
// cell the medians of that server's runs. Lines that are not results (logs)
// are skipped.
func printTable(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	results, err := readResults(f)
	if err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("%s: no results", path)
	}
	writeTable(w, results)
	return nil
}

func readResults(r io.Reader) ([]result, error) {
	var out []result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		res := result{BenchCPUPerOpUs: -1} // unknown in files from before it was measured
		if err := json.Unmarshal([]byte(line), &res); err != nil || res.Server == "" {
			continue
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

// rowKey identifies a table row.
type rowKey struct{ scenario, params string }

// writeTable writes the markdown table of results.
func writeTable(w io.Writer, results []result) {
	var rows []rowKey
	var servers []string
	runs := make(map[rowKey]map[string][]result)
	for _, r := range results {
		k := rowKey{r.Scenario, r.Params}
		if runs[k] == nil {
			runs[k] = make(map[string][]result)
			rows = append(rows, k)
		}
		if !slices.Contains(servers, r.Server) {
			servers = append(servers, r.Server)
		}
		runs[k][r.Server] = append(runs[k][r.Server], r)
	}
	ratio := slices.Contains(servers, "realtime") && slices.Contains(servers, "centrifuge")
	// An earlier build of ours (run.sh BASE=): realtime@<commit>.
	base := ""
	if i := slices.IndexFunc(servers, func(s string) bool { return strings.HasPrefix(s, "realtime@") }); i >= 0 && slices.Contains(servers, "realtime") {
		base = servers[i]
	}

	fmt.Fprintf(w, "| scenario | figure | %s |", strings.Join(servers, " | "))
	if ratio {
		fmt.Fprint(w, " realtime ÷ centrifuge |")
	}
	if base != "" {
		fmt.Fprintf(w, " realtime ÷ %s |", base)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, "|---|---|", strings.Repeat("---|", len(servers)))
	if ratio {
		fmt.Fprint(w, "---|")
	}
	if base != "" {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	most := 0
	for _, k := range rows {
		for _, rs := range runs[k] {
			most = max(most, len(rs))
		}
	}
	noted := false
	for _, k := range rows {
		fmt.Fprintf(w, "| `%s` %s | %s |", k.scenario, k.params, figureName(k.scenario))
		for _, s := range servers {
			rs := runs[k][s]
			cell := "–"
			if len(rs) > 0 {
				cell = formatCell(k.scenario, medianOf(rs), spread(rs))
				if len(rs) < most {
					cell += fmt.Sprintf(" (n=%d)", len(rs))
				}
				if slices.ContainsFunc(rs, func(r result) bool { return r.Note != "" }) {
					cell += " †"
					noted = true
				}
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		if ratio {
			fmt.Fprintf(w, " %s |", formatRatio(k.scenario, runs[k]["realtime"], runs[k]["centrifuge"]))
		}
		if base != "" {
			fmt.Fprintf(w, " %s |", formatRatio(k.scenario, runs[k]["realtime"], runs[k][base]))
		}
		fmt.Fprintln(w)
	}
	if noted {
		fmt.Fprintln(w, "\n† a run of this cell ended with a note (a stall, a cut drain, failed connections): see its summary line.")
	}
}

// figureName says what the cells of a scenario's row show.
func figureName(scenario string) string {
	switch scenario {
	case "fanout/window", "rooms":
		return "deliveries/s (spread) · CPU per delivery: server, bench · bytes per delivery"
	case "fanout/burst":
		return "lost · disconnected readers"
	case "fanout/paced":
		return "latency p50 / p99"
	case "idle":
		return "server heap+stacks per conn · resident per conn · goroutines per conn"
	case "connect":
		return "connect+auth+join per s (spread) · p99 · server CPU per connect"
	}
	return ""
}

// formatCell formats the medians m of one server's runs of a scenario, and
// the spread of its throughput.
func formatCell(scenario string, m result, spread string) string {
	var cell string
	switch scenario {
	case "fanout/window", "rooms":
		cell = fmt.Sprintf("%s/s%s · %s µs, bench %s µs", si(m.PerSec), spread, known(m.CPUPerOpUs, "%.2f"), known(m.BenchCPUPerOpUs, "%.2f"))
		if m.WireBytesPerOp > 0 {
			cell += fmt.Sprintf(" · %.0f B", m.WireBytesPerOp)
		}
		if m.Loss > 0 {
			cell += fmt.Sprintf(" · %.1f%% lost", 100*m.Loss)
		}
	case "fanout/burst":
		cell = fmt.Sprintf("%.1f%% lost · %d disc.", 100*m.Loss, m.Disconnects)
	case "fanout/paced":
		cell = fmt.Sprintf("%.1f / %.1f ms", m.P50Ms, m.P99Ms)
		if m.Loss > 0 {
			cell += fmt.Sprintf(" · %.1f%% lost", 100*m.Loss)
		}
	case "idle":
		cell = fmt.Sprintf("%s KB · %s KB · %s", known(m.HeapPerConnKB, "%.1f"), known(m.RSSPerConnKB, "%.1f"), known(m.GoroutinesPerConn, "%.2f"))
	case "connect":
		cell = fmt.Sprintf("%s/s%s · %.1f ms · %s µs", si(m.PerSec), spread, m.P99Ms, known(m.CPUPerOpUs, "%.0f"))
	}
	if m.Disconnects > 0 && scenario != "fanout/burst" {
		cell += fmt.Sprintf(" · %d disc.", m.Disconnects)
	}
	return cell
}

// spread formats the lowest and highest throughput of rs, " (lo–hi)", or
// "" for a single run.
func spread(rs []result) string {
	if len(rs) < 2 {
		return ""
	}
	lo, hi := rs[0].PerSec, rs[0].PerSec
	for _, r := range rs[1:] {
		lo, hi = min(lo, r.PerSec), max(hi, r.PerSec)
	}
	return fmt.Sprintf(" (%s–%s)", si(lo), si(hi))
}

// formatRatio compares the throughput medians of realtime and centrifuge,
// with the spread of the ratios of the runs made side by side (the same
// label: run.sh's rep), and for deliveries the ratio of the medians of
// server CPU per delivery.
func formatRatio(scenario string, ours, theirs []result) string {
	switch scenario {
	case "fanout/window", "rooms", "connect":
	default:
		return ""
	}
	if len(ours) == 0 || len(theirs) == 0 {
		return ""
	}
	mo, mt := medianOf(ours), medianOf(theirs)
	if mt.PerSec <= 0 {
		return ""
	}
	out := fmt.Sprintf("%.2fx", mo.PerSec/mt.PerSec)
	var pairs []float64
	for _, o := range ours {
		for _, t := range theirs {
			if o.Label != "" && o.Label == t.Label && t.PerSec > 0 {
				pairs = append(pairs, o.PerSec/t.PerSec)
			}
		}
	}
	if len(pairs) > 1 {
		out += fmt.Sprintf(" (%.2f–%.2f)", slices.Min(pairs), slices.Max(pairs))
	}
	if scenario != "connect" && mo.CPUPerOpUs > 0 && mt.CPUPerOpUs > 0 {
		out += fmt.Sprintf(" · CPU %.2fx", mo.CPUPerOpUs/mt.CPUPerOpUs)
	}
	return out
}

// medianOf returns a result whose every figure is the median of that figure
// over rs (each figure on its own: the median p99 may come from another run
// than the median throughput).
func medianOf(rs []result) result {
	m := rs[0]
	med := func(get func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		return median(v)
	}
	m.PerSec = med(func(r result) float64 { return r.PerSec })
	m.Loss = med(func(r result) float64 { return r.Loss })
	m.P50Ms = med(func(r result) float64 { return r.P50Ms })
	m.P99Ms = med(func(r result) float64 { return r.P99Ms })
	m.MaxMs = med(func(r result) float64 { return r.MaxMs })
	m.CPUPerOpUs = med(func(r result) float64 { return r.CPUPerOpUs })
	m.BenchCPUPerOpUs = med(func(r result) float64 { return r.BenchCPUPerOpUs })
	m.HeapPerConnKB = med(func(r result) float64 { return r.HeapPerConnKB })
	m.RSSPerConnKB = med(func(r result) float64 { return r.RSSPerConnKB })
	m.WireBytesPerOp = med(func(r result) float64 { return r.WireBytesPerOp })
	m.GoroutinesPerConn = med(func(r result) float64 { return r.GoroutinesPerConn })
	m.Disconnects = int(med(func(r result) float64 { return float64(r.Disconnects) }))
	return m
}

// median returns the median of v (the mean of the middle two for an even
// count); v is reordered.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
