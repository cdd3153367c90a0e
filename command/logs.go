package command

import (
	"context"

	"github.com/strata-dev/strata/report"
)

// logs returns a deployment's stored (redacted) output after the chunk req.After, or, with
// Follow at a site that can stream, streams it until the deployment ends.
func logs(ctx context.Context, x Site, req report.LogsRequest) (*report.Logs, error) {
	d, err := readDeployment(ctx, x, req.ID)
	if err != nil {
		return nil, err
	}
	if req.Follow && x.Follow(ctx, d, req.After) {
		return nil, nil
	}
	s, err := x.Store(ctx)
	if err != nil {
		return nil, err
	}
	return report.NewLogs(ctx, s, d.ID, req.After)
}
