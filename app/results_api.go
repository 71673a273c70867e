package app

import (
	"github.com/careline/careline/dialer/results"
	"github.com/careline/careline/recordings"
)

// mountResultsAPI serves campaign results and opt-outs to supervisors and admins, with
// the same bearer tokens as the campaign API.
func (a *App) mountResultsAPI() {
	users, err := recordings.UsersFromConfig(a.cfg.Users)
	if err != nil {
		a.log.Error("results API is off", "err", err)
		return
	}
	authn := recordings.NewAuthenticator(users, a.opts.Now)
	results.NewAPI(a.pool, a.log.With("component", "results")).Register(supervisorMux{m: a.HTTP, authn: authn})
}
