package prompts

// Prompt ids of the product manifest (prompts/manifest.yaml) for code that plays
// prompts directly (queues, agent feature codes, the dialer, flow defaults). Flows in
// configuration name prompts by the same strings. A test checks that each exists in
// every language of the manifest; "+ say.X" in the manifest notes says what follows.
const (
	// Language selection: each line in its own language, in both folders.
	LangEnglish = "lang/english"
	LangSpanish = "lang/spanish"
	// Main pharmacy line.
	MainWelcome         = "main/welcome"
	MainEmergency       = "main/emergency"
	MainRecordingNotice = "main/recording_notice"
	MainMenu            = "main/menu"
	MainMenuShort       = "main/menu_short"
	MainGoodbye         = "main/goodbye"
	// Menu handling (any menu).
	MenuInvalid     = "menu/invalid"
	MenuTimeout     = "menu/timeout"
	MenuTryAgain    = "menu/try_again"
	MenuRepeat      = "menu/repeat"
	MenuMaxFailures = "menu/max_failures"
	// Common.
	CommonOneMoment           = "common/one_moment"
	CommonThankYou            = "common/thank_you"
	CommonGoodbye             = "common/goodbye"
	CommonYouEntered          = "common/you_entered"
	CommonConfirmEntry        = "common/confirm_entry"
	CommonTechnicalDifficulty = "common/technical_difficulty"
	// Refills.
	RefillEnterRx        = "refill/enter_rx"
	RefillInvalidRx      = "refill/invalid_rx"
	RefillNotFound       = "refill/not_found"
	RefillReceivedPrefix = "refill/received_prefix"
	RefillReceivedSuffix = "refill/received_suffix"
	RefillReadyOn        = "refill/ready_on"
	RefillReadyAfter     = "refill/ready_after"
	RefillReadySoon      = "refill/ready_soon"
	RefillNoRefills      = "refill/no_refills"
	RefillAnother        = "refill/another"
	// Transfers.
	TransferGeneric      = "transfer/generic"
	TransferPharmacist   = "transfer/pharmacist"
	TransferAppointments = "transfer/appointments"
	TransferBilling      = "transfer/billing"
	TransferCoordinator  = "transfer/coordinator"
	TransferNurse        = "transfer/nurse"
	// After hours.
	HoursClosed                = "hours/closed"
	HoursClosedHoliday         = "hours/closed_holiday"
	HoursClosedToday           = "hours/closed_today"
	HoursOurHoursAre           = "hours/our_hours_are"
	HoursReopenOn              = "hours/reopen_on"
	OptionsVoicemailOrCallback = "options/voicemail_or_callback"
	// Voicemail and call back.
	VoicemailInstructions       = "voicemail/instructions"
	VoicemailSaved              = "voicemail/saved"
	VoicemailNoMessage          = "voicemail/no_message"
	ToneBeep                    = "tone/beep"
	CallbackConfirmCallerNumber = "callback/confirm_caller_number"
	CallbackEnterNumber         = "callback/enter_number"
	CallbackConfirmed           = "callback/confirmed"
	CallbackKeepPlaceConfirmed  = "callback/keep_place_confirmed"
	// Queue.
	QueueAllBusy         = "queue/all_busy"
	QueuePositionPrefix  = "queue/position_prefix"
	QueuePositionSuffix  = "queue/position_suffix"
	QueueNextInLine      = "queue/next_in_line"
	QueueWaitPrefix      = "queue/wait_prefix"
	QueueWaitUnderMinute = "queue/wait_under_minute"
	QueueCallbackOffer   = "queue/callback_offer"
	QueueComfort         = "queue/comfort"
	QueueReconnect       = "queue/reconnect"
	QueueOverflow        = "queue/overflow"
	QueueHoldMusic       = "queue/hold_music"
	// Agent feature codes (heard by staff).
	AgentLoggedIn         = "agent/logged_in"
	AgentReady            = "agent/ready"
	AgentAway             = "agent/away"
	AgentLoggedOut        = "agent/logged_out"
	AgentEnterDisposition = "agent/enter_disposition"
	AgentDispositionSaved = "agent/disposition_saved"
	AgentInvalidCode      = "agent/invalid_code"
	// Test line.
	TestWelcome    = "test/welcome"
	TestYouPressed = "test/you_pressed"
	// Outbound dialer (minimum necessary; no drug names, no conditions).
	DialerIdentification      = "dialer/identification"
	DialerRefillReady         = "dialer/refill_ready"
	DialerRefillRequested     = "dialer/refill_requested"
	DialerConnectPharmacy     = "dialer/connect_pharmacy"
	DialerAppointmentReminder = "dialer/appointment_reminder"
	DialerAppointmentOptions  = "dialer/appointment_options"
	DialerConfirmed           = "dialer/confirmed"
	DialerCancelled           = "dialer/cancelled"
	DialerReschedule          = "dialer/reschedule"
	DialerOptedOut            = "dialer/opted_out"
	DialerRepeatOption        = "dialer/repeat_option"
	DialerAbandoned           = "dialer/abandoned"
	DialerStopCallsOption     = "dialer/stop_calls_option"
	DialerCallUsAt            = "dialer/call_us_at"
	DialerVmPrescription      = "dialer/vm_prescription"
	DialerVmAppointment       = "dialer/vm_appointment"
	DialerVmRepeatNumber      = "dialer/vm_repeat_number"
	DialerVmOptOut            = "dialer/vm_opt_out"
	// Say support: silence between digit groups (say.PauseShort).
	PauseShort = "pause/short"
)

// ProductIDs lists the constants above, for validation and tests.
func ProductIDs() []string {
	return []string{
		LangEnglish,
		LangSpanish,
		MainWelcome,
		MainEmergency,
		MainRecordingNotice,
		MainMenu,
		MainMenuShort,
		MainGoodbye,
		MenuInvalid,
		MenuTimeout,
		MenuTryAgain,
		MenuRepeat,
		MenuMaxFailures,
		CommonOneMoment,
		CommonThankYou,
		CommonGoodbye,
		CommonYouEntered,
		CommonConfirmEntry,
		CommonTechnicalDifficulty,
		RefillEnterRx,
		RefillInvalidRx,
		RefillNotFound,
		RefillReceivedPrefix,
		RefillReceivedSuffix,
		RefillReadyOn,
		RefillReadyAfter,
		RefillReadySoon,
		RefillNoRefills,
		RefillAnother,
		TransferGeneric,
		TransferPharmacist,
		TransferAppointments,
		TransferBilling,
		TransferCoordinator,
		TransferNurse,
		HoursClosed,
		HoursClosedHoliday,
		HoursClosedToday,
		HoursOurHoursAre,
		HoursReopenOn,
		OptionsVoicemailOrCallback,
		VoicemailInstructions,
		VoicemailSaved,
		VoicemailNoMessage,
		ToneBeep,
		CallbackConfirmCallerNumber,
		CallbackEnterNumber,
		CallbackConfirmed,
		CallbackKeepPlaceConfirmed,
		QueueAllBusy,
		QueuePositionPrefix,
		QueuePositionSuffix,
		QueueNextInLine,
		QueueWaitPrefix,
		QueueWaitUnderMinute,
		QueueCallbackOffer,
		QueueComfort,
		QueueReconnect,
		QueueOverflow,
		QueueHoldMusic,
		AgentLoggedIn,
		AgentReady,
		AgentAway,
		AgentLoggedOut,
		AgentEnterDisposition,
		AgentDispositionSaved,
		AgentInvalidCode,
		TestWelcome,
		TestYouPressed,
		DialerIdentification,
		DialerRefillReady,
		DialerRefillRequested,
		DialerConnectPharmacy,
		DialerAppointmentReminder,
		DialerAppointmentOptions,
		DialerConfirmed,
		DialerCancelled,
		DialerReschedule,
		DialerOptedOut,
		DialerRepeatOption,
		DialerAbandoned,
		DialerStopCallsOption,
		DialerCallUsAt,
		DialerVmPrescription,
		DialerVmAppointment,
		DialerVmRepeatNumber,
		DialerVmOptOut,
		PauseShort,
	}
}
