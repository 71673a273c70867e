package app

func (a *App) mountResultsAPI() {}
