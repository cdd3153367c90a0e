package main

// backend returns where commands run.
func (a *app) backend() backend {
	return local{a}
}
