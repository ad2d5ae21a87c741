def test_superuser_signs_in_and_sees_the_model_list(page, live_server, login, superuser, seeded, screenshot):
    login(superuser)
    page.goto(f"{live_server.url}/admin/models_registry/aimodel/")
    assert page.locator("#result_list tbody tr").count() == 58
    screenshot("admin-model-list")
