package http

import (
	"context"
	"fmt"
)

// The agent's half of the agents' protocol (api_agent.go): one method a route. Each returns
// the server's error with its code: ECONFLICT when the claim's fence is not the current one,
// EUNAUTHORIZED when the token does not cover the pool or the deployment.

// Register registers the agent.
func (c *Client) Register(ctx context.Context, h AgentHello) (*AgentWelcome, error) {
	var w AgentWelcome
	if _, err := c.do(ctx, "POST", "/api/v1/agent/register", nil, h, &w); err != nil {
		return nil, fmt.Errorf("register agent %s: %w", h.Name, err)
	}
	return &w, nil
}

// Heartbeat says the agent is still connected.
func (c *Client) Heartbeat(ctx context.Context, h AgentHello) error {
	_, err := c.do(ctx, "POST", "/api/v1/agent/heartbeat", nil, h, nil)
	return err
}

// Claim asks for a deployment of the agent's pool, the server holding the request up to
// its wait; a nil Job means none came.
func (c *Client) Claim(ctx context.Context, req ClaimRequest) (*Claimed, error) {
	var got Claimed
	if _, err := c.do(ctx, "POST", "/api/v1/agent/claim", nil, req, &got); err != nil {
		return nil, err
	}
	return &got, nil
}

// Renew renews a claim's lease.
func (c *Client) Renew(ctx context.Context, f Fenced) (*Renewed, error) {
	var r Renewed
	if _, err := c.do(ctx, "POST", "/api/v1/agent/renew", nil, f, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// SendLogs sends a claimed deployment's (redacted) output.
func (c *Client) SendLogs(ctx context.Context, l AgentLogs) error {
	_, err := c.do(ctx, "POST", "/api/v1/agent/logs", nil, l, nil)
	return err
}

// Report reports a claimed deployment's outcome.
func (c *Client) Report(ctx context.Context, r AgentReport) error {
	_, err := c.do(ctx, "POST", "/api/v1/agent/report", nil, r, nil)
	return err
}

// ReportNext reports a claimed deployment's outcome and claims the next deployment of the
// pool in the same request (r.Next set), the server holding it up to r.WaitSeconds; a nil
// Job means none came. Only a server whose welcome says ReportNext takes it.
func (c *Client) ReportNext(ctx context.Context, r AgentReport) (*ReportedNext, error) {
	r.Next = true
	var got ReportedNext
	if _, err := c.do(ctx, "POST", "/api/v1/agent/report", nil, r, &got); err != nil {
		return nil, err
	}
	return &got, nil
}
